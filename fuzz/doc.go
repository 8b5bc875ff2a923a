// Package fuzz finds what table-driven cells cannot: defects that hide in
// sequences of calls, in wire input and in concurrency.
//
// Runner is a rapid state machine that checks any target against the
// reference model. Its actions are every operation of the model on the
// stores and keys of the model's current world (model.Calls, drawn from
// the model alone, never from a live answer), a reconnect of a store 1–6
// times over, and the target's control plane where it has one: settling a
// held transition, breaking and mending a cluster or a proxy, ending a
// key's deletion window. After each call the target's answer must be one
// the model allows, and the model keeps the set of worlds consistent with
// everything observed so far: an answer several worlds allow keeps them
// all, a listing of the stores or the keys narrows them, and the run fails
// when the set is empty. The stores and keys are listed after every step
// that may have changed what they show, and once more at the end of each
// case.
//
// Each action is drawn as raw single bits (the operation's place in a fixed
// order, the subject's place in the world, the input's variant), read
// against the model when it runs: a drawn action keeps its meaning when
// shrinking removes the actions before it, and rapid minimises a bit in one
// replay where its biased integers cost hundreds. Every failure is raised
// from one place per kind of departure, so shrinking may trade the call
// that shows a departure for an earlier one but never one kind for
// another. rapid then shrinks the sequence, Program prints it as a runnable
// Go program of SDK calls (secrets as environment variables), and rapid's
// fail file under testdata/rapid replays it on the next run.
//
// The machine translates model calls with package drive (Mapper, Classify,
// ApplyEnv), the one model→SDK translation the suites use too.
//
// Load runs concurrent clients against one target and checks the history
// with porcupine (linearizability, per store) and for lost keys and
// ciphertexts. The native fuzz targets over the wire live beside the code
// they fuzz, in targets/emulator and targets/xksproxy.
package fuzz
