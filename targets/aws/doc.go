// Package aws is the target for real AWS KMS, with guardrails.
//
// Custom key stores on AWS cost money (a CloudHSM cluster, an XKS proxy)
// and a conformance run creates, connects and deletes them. So a run must
// be planned, guarded and cleaned up like an operation on production:
//
//   - New refuses, making no call at all, unless the run is started with
//     --confirm-account; then it asks STS who the caller is and refuses,
//     making no other call, unless that account is listed in
//     targets.aws.enabled_accounts of ginkgo.yml and is the one confirmed.
//     A credential for production picked up by accident from the default
//     chain runs nothing.
//   - The target's KMS client carries a Guard, an SDK middleware that sees
//     every call before it is sent: a call naming a store or key that this
//     run did not create is refused (unless KMS says the id names nothing,
//     which the NO_SUCH_STORE cells need); store names must carry the run's
//     prefix and keys get a kmsconform:run tag; creates are refused past
//     targets.aws.limits (live stores, keys) and every mutating call once
//     the time budget is spent.
//   - Guard.Guarded runs a function and then the cleanup, always: on
//     success, failure, timeout, and the first SIGINT/SIGTERM; a second
//     signal stops the cleanup and prints what is left. The cleanup works
//     from the guard's ledger only (it never lists and deletes): it
//     schedules the run's keys for deletion with the 7-day minimum,
//     disconnects and deletes the run's stores, and reports a store that
//     still holds keys pending deletion, and anything a call failed on.
//   - NormalizeRecording turns the compat.json of a run into a recording of
//     real KMS behaviour that can be shared: account ids, store and key ids
//     and the run's prefix normalised, secrets scrubbed.
//
// Real KMS has no control plane: no held transitions, no broken backings,
// no deletion-window shortcut. Routes made of API calls alone use the
// cluster and proxy named in targets.aws.backing (or the KMSCONFORM_*
// environment variables). The package is tested against the embedded
// emulator in its AWS-like mode (emulator.AWSLikeOptions), since no AWS
// account is at hand in CI.
package aws
