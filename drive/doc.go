// Package drive drives a target for the reference model: it is what the
// Ginkgo suites (suites/) and the fuzzer (fuzz/) share, and it knows
// nothing of Ginkgo.
//
//   - Mapper translates a model.Call into an AWS SDK call on the target
//     (names with the run's prefix, the model's fixtures mapped onto the
//     backing the run was given); a call that names backing the run was not
//     given and cannot create is never sent (UnknownBackingError).
//   - Classify turns an SDK error into an Observation by
//     smithy.APIError.ErrorCode().
//   - ApplyEnv and PutBacking carry out the model's environment calls on the
//     target's capabilities, the role interfaces of package targets it
//     implements (targets.ClusterControl, ProxyFleet, TimeControl, or
//     ProxyControl for the one proxy behind it).
//   - Driver runs one cell (RunCell: the cell's route of calls, from a reset
//     target), a scenario (RunScenario, followed step by step by the model)
//     or the planner's walk (RunWalk: one store through every state, a
//     transient state held where the target can, else caught between two
//     DescribeCustomKeyStores), and on a target that shares its backing
//     runs each store type as a lane (UsesLanes, LaneCell).
//   - What a cell or scenario gave is drive's own (CellResult,
//     ScenarioResult, Verdict): drive does not import reports; the suites'
//     harness turns a result into compat.json's (harness.CellReport).
//   - Sweep removes what a run created, by ownership (the run's name prefix
//     and the ids it created), never anything else.
//   - Open builds the target a Spec names.
//
// Waiting for a store to settle goes through package wait.
package drive
