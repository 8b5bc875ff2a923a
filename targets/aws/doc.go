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
//     every call before it is sent: a call naming a store, key or alias
//     that this run did not create is refused (unless KMS says the id
//     names nothing, which the NO_SUCH_STORE cells need); a Decrypt or
//     ReEncrypt that names no key is refused unless its ciphertext is one
//     this run was given (the guard remembers them: the ciphertext format
//     is not documented, so the key id inside proves nothing); a
//     RetireGrant needs a token this run was given or a key of the run; an
//     operation the guard does not know is refused. Store and alias names
//     must carry the run's prefix and keys get kmsconform:run and
//     kmsconform:create tags; creates are refused past targets.aws.limits
//     (live stores, keys) and every mutating call once the time budget is
//     spent.
//   - The guard keeps a ledger on disk (ledger.json in the report folder):
//     every create is written down before it is sent and replaced by its
//     id when KMS answers. A create whose answer is lost — Ctrl-C while it
//     is in flight, a timeout after KMS acted, a cut connection, a server
//     error — stays there as an Intent, and the cleanup looks it up by what
//     it sent: a store or alias by its exact name, a key by the store it
//     was made in or its kmsconform:create tag; found, it is cleaned up,
//     else reported. After any crash (kill -9 included), `kmsconform
//     cleanup --ledger FILE` (OpenLedger) finishes the job from the file.
//   - Guard.Guarded runs a function and then the cleanup, always: on
//     success, failure, timeout, and the first SIGINT, SIGTERM, SIGHUP (a
//     dropped SSH session) or SIGQUIT; a second signal — but a hangup,
//     which often comes twice — stops the cleanup and prints what is left.
//     The cleanup works from the guard's ledger only (it never lists and
//     deletes): it deletes the run's aliases, schedules its keys for
//     deletion with the 7-day minimum, disconnects and deletes its stores,
//     and reports a store that still holds keys pending deletion, and
//     anything a call failed on.
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
