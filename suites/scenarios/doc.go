// Package scenarios registers the documented custom key store workflows as
// Ginkgo specs, run end to end on the target while the reference model
// follows every step: the store and key lifecycle, recovery from FAILED,
// deleting a store, XKS credential rotation, the kmsuser password rotation,
// the store quota and DescribeCustomKeyStores pagination.
package scenarios
