// Package model is the reference model of AWS KMS custom key store behaviour:
// CloudHSM key stores and external key stores (XKS), their connection states,
// the keys they hold, and the backing (cluster, proxy) they depend on.
//
// The model is pure: no I/O, no network, no AWS SDK. Its types carry the wire
// names as their string values, so a suite can compare them with what a target
// returns without a translation table.
//
// The centre is [Step]: given a [World] (an abstract account) and a [Call], it
// returns the set of [Outcome]s the documentation allows — success or one
// exception name, each with the worlds it may lead to. Nondeterminism is
// explicit: ConnectCustomKeyStore leads to CONNECTING, and a later [OpSettle]
// step resolves CONNECTING to CONNECTED or to FAILED with the code that follows
// from the backing conditions. Where the sources are silent (U) or contradict
// each other (C), the outcome set holds every plausible answer and the rule that
// allowed it says so, so suites never assert such a cell against real KMS.
//
// Every outcome names the [Rule] that allows it; every rule carries its status
// (D documented, I inferred, C contradictory, U undocumented) and its source in
// the project's behaviour reference (spec/custom-key-stores.md). [Revision]
// identifies the rule set, and [Cells] enumerates the conformance matrix that
// suites and reports are generated from.
package model
