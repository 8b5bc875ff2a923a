// Package targets defines what the suites check: a Target is a KMS (the
// embedded emulator, any KMS-compatible endpoint, or real KMS) with an AWS SDK
// client configured for conformance calls, and the capabilities it offers to
// reach states the API alone cannot reach.
//
// The implementations live in the subpackages emulator, endpoint and aws;
// they import this package for the interface and nothing else of ours but
// each other's packages where one embeds another (the emulator target runs
// in-process XKS proxies from xksproxy).
//
// Targets are capabilities, not special cases: a suite asks a target whether
// it can hold a store in CONNECTING or break a proxy, and a target that cannot
// makes those cells unreachable, never silently passing.
package targets
