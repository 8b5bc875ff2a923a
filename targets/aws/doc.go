// Package aws is the target for real AWS KMS, with guardrails.
//
// Custom key stores on AWS cost money (a CloudHSM cluster, an XKS proxy)
// and a conformance run creates, connects and deletes them. So New first
// asks STS who the caller is and refuses, making no other call, unless
// that account is listed in targets.aws.enabled_accounts of ginkgo.yml: a
// sandbox account has to be enabled on purpose, and a credential for
// production picked up by accident from the default chain runs nothing.
//
// Real KMS has no control plane: no held transitions, no broken backings,
// no deletion-window shortcut. Routes made of API calls alone use the
// cluster and proxy named in targets.aws.backing (or the KMSCONFORM_*
// environment variables).
package aws
