// Package endpoint is the target for any KMS-compatible endpoint: moto,
// LocalStack, another emulator, or kmsconform's own emulator served by
// `kmsconform serve`.
//
// Such a target has none of the capabilities of package targets: every cell that
// needs a held transition or a broken cluster is unreachable on it, and
// routes made of API calls alone use the backing of targets.endpoint in
// ginkgo.yml (an existing cluster or proxy), if any.
//
// # Changing the XKS proxy
//
// One thing it can change: when the backing's XKS proxy (xks_uri_endpoint,
// KMSCONFORM_XKS_URI_ENDPOINT) is a `kmsconform xks-proxy` whose control
// API the run can reach, and xks_control_url (KMSCONFORM_XKS_CONTROL_URL)
// says where (the proxy's --control-addr, e.g. http://127.0.0.1:8444),
// New returns a *ProxyTarget, which implements targets.ProxyControl.
// Stores of whatever KMS is behind the endpoint can then be put into FAILED with each ConnectionErrorCode by breaking the
// proxy, and mended again. It is no targets.ProxyFleet: it changes that
// one proxy, runs none at other endpoints and has no VPC endpoint
// services.
//
// Control requests are SigV4-signed for the proxy's control service with
// the configured XKS credential (xks_access_key_id and
// xks_secret_access_key), so New refuses a control URL without it. Only
// the proxy at the configured endpoint can be changed; any other endpoint,
// or a path other than the one it serves, is targets.ErrUnsupported.
// PutProxy makes the proxy match the model's Proxy:
//
//   - its one fault: unreachable, slow, throttling, internal and
//     dependency-timeout are the proxy's faults of the same names;
//     tls-invalid is tls-expired; deny-all is access-denied (a fault,
//     because the proxy exempts GetHealthStatus from its deny rules);
//     malformed is non-json; ekm-unavailable and ekm-degraded are
//     health-unavailable and health-degraded. Key faults and deny rules are
//     cleared. tls-invalid on a proxy serving plain HTTP is unsupported.
//   - the credentials it accepts, exactly. While they lack the configured
//     one, the target keeps a random credential of its own on the proxy
//     to sign with, which no store can use.
//   - each listed key, with its status (ok: AES_256, ENCRYPT and DECRYPT,
//     ENABLED; disabled; wrong-spec: RSA_2048; wrong-usage: SIGN and
//     VERIFY). Keys not listed are left alone.
//
// DeleteProxy sets the unreachable fault; the control API has its own
// listener and stays up. Close clears every fault, makes the proxy accept
// the configured credential again, removes the credentials and keys the
// target added, and puts back the keys and deny rules it changed. Other
// credentials the proxy had before and PutProxy removed cannot come back:
// the control API never reveals secrets. Secrets are never logged nor
// quoted in errors.
//
// Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the
// configured profile; without either the client signs with the dummy
// credential test/test that emulators accept, so that pointing the suite at
// a local emulator never sends a real credential by accident (AWS_PROFILE
// alone is not enough for that reason).
package endpoint
