// Package endpoint is the target for any KMS-compatible endpoint: moto,
// LocalStack, another emulator, or kmsconform's own emulator served by
// `kmsconform serve`.
//
// Such a target has no control plane and no capabilities: every cell that
// needs a held transition or a broken backing is unreachable on it, and
// routes made of API calls alone use the backing of targets.endpoint in
// ginkgo.yml (an existing cluster or proxy), if any.
//
// Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the
// configured profile; without either the client signs with the dummy
// credential test/test that emulators accept, so that pointing the suite at
// a local emulator never sends a real credential by accident (AWS_PROFILE
// alone is not enough for that reason).
package endpoint
