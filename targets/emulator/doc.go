// Package emulator is kmsconform's embedded AWS KMS: an awsJson1_1 server
// whose custom key stores behave as the documentation says, including
// CONNECTING, DISCONNECTING, FAILED with every ConnectionErrorCode, and keys
// that become Unavailable while their store is not connected.
//
// It is a second, independent reading of spec/custom-key-stores.md and does
// not import the model package: the conformance suite checks the two against
// each other, and where they disagree one of them is wrong. Where the spec
// marks a behaviour U or C, the code says which reading it chose, citing
// the spec item.
//
// # Backing stores
//
// CloudHSM key stores are checked against simulated clusters (Cluster):
// trust anchor, HSMs and their zones, subnets, security group, and the
// kmsuser with its password, lockout after five bad passwords, and the
// password rotation KMS performs on every connect.
//
// External key stores are real: the emulator is an XKS Proxy API v1 client
// that signs every request with SigV4 (service kms-xks-proxy), gives up
// after Options.XKSTimeout, and maps every failure to the exception or
// ConnectionErrorCode of spec §7.4. A UriEndpoint host is reached through an
// XKSRoute (loopback address and CA), since a local proxy cannot listen on
// port 443 of a public name.
//
// # Time
//
// Transitions end when Options.Clock passes their due time, evaluated on
// every request, so a FakeClock makes tests deterministic: Connect, Advance,
// Settle. Hold keeps a store in its transient state until Release.
//
// # Control plane
//
// Every control method is also served over HTTP under ControlPrefix
// ("/_kmsconform/"), JSON in and out, errors as {"error": "..."}:
//
//	POST   /_kmsconform/reset                            forget everything
//	POST   /_kmsconform/clock/advance    {"seconds": N}  FakeClock only (409 otherwise)
//	GET    /_kmsconform/stores/{id}                      StoreStatus
//	POST   /_kmsconform/stores/{id}/hold                 keep CONNECTING/DISCONNECTING
//	POST   /_kmsconform/stores/{id}/release
//	POST   /_kmsconform/stores/{id}/settle               finish a due transition, wait for its check
//	POST   /_kmsconform/stores/{id}/expedite             make a pending transition due now
//	PUT    /_kmsconform/clusters/{id}        Cluster     add or replace a CloudHSM cluster
//	GET    /_kmsconform/clusters/{id}                    Cluster (kmsuser password removed)
//	DELETE /_kmsconform/clusters/{id}
//	POST   /_kmsconform/clusters/{id}/kmsuser-password {"password": "..."}
//	PUT    /_kmsconform/vpc-endpoint-services/{name} VpcEndpointService
//	DELETE /_kmsconform/vpc-endpoint-services/{name}
//	PUT    /_kmsconform/xks-routes/{host}    XKSRoute    point a UriEndpoint host at a proxy
//	POST   /_kmsconform/xks-routes/{host}/break          make the host unreachable
//	PUT    /_kmsconform/keys/{id}/backing {"deleted": b} simulate a deleted HSM key
//	POST   /_kmsconform/keys/{id}/expire-deletion        delete a PendingDeletion key now
//
// A cluster body over HTTP must name every field KMS checks
// (trustAnchorCertificate, state, hsms, subnets, securityGroupOk, kmsUser
// with its password): one that leaves a field out, or has a field the
// Cluster type does not know, gets a 400 that names it and shows a
// complete body. A field given explicitly is taken as it is ("hsms": [],
// "kmsUser": null), so a broken cluster is still one PUT away.
//
// The control plane refuses what a web page can make a browser send, since
// a page can reach loopback:
//
//   - a Host that is not the address the request came in on (IP:port), a
//     loopback form of its port (localhost:PORT, 127.0.0.1:PORT,
//     [::1]:PORT) or one of Options.ControlHosts: 421. A DNS rebinding
//     sends the attacker's own name, which is none of them;
//   - any Origin header, "null" included (sandboxed frames and file: pages
//     send it), and Sec-Fetch-Site cross-site or same-site: 403;
//   - a body, or a method other than GET and HEAD (with or without a body),
//     without Content-Type application/json: 415. A browser sends no
//     other type without a CORS preflight, which the control plane never
//     answers;
//   - under Options.Credentials (serve's -verify-sigv4), a request not
//     signed with SigV4 by one of them for the service ControlServiceName
//     ("kmsconform-emulator-control") in the emulator's Region, with host
//     and (when present) content-type among the signed headers: 403. A
//     request signed for kms is not a control request, nor the reverse.
//
// With curl, under -verify-sigv4:
//
//	curl -sf --aws-sigv4 "aws:amz:us-east-1:kmsconform-emulator-control" \
//	  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
//	  -H 'Content-Type: application/json' -X POST http://127.0.0.1:4599/_kmsconform/reset
//
// Over HTTP, an XKS route dials only a loopback address (localhost or a
// loopback IP) unless Options.AllowRemoteRoutes (serve's -allow-remote):
// 403 otherwise. Every refusal is a JSON error and one log line, of
// bounded length. Without Credentials the control plane has no
// authentication beyond these checks: it is meant for loopback, and
// Options.DisableControl removes it.
//
// # Connection bounds
//
// Serve's server has read-header, read, write and idle timeouts
// (DefaultReadHeaderTimeout and the others in server.go; Options can
// change them): a trickled body or an idle keep-alive no longer holds a
// connection for ever. The KMS API requires its signature, when checked,
// to cover X-Amz-Target and Content-Type besides host, as every AWS SDK
// signs them: otherwise a captured request could be replayed as another
// operation.
//
// # As a conformance target
//
// NewTarget runs an emulator in-process as a targets.Target with every
// capability of package targets: real time with short transitions
// (targets.emulator in ginkgo.yml); it resets, holds and settles
// transitions, puts and breaks simulated clusters and VPC endpoint
// services, ends deletion windows, and runs real XKS proxies (package
// xksproxy), one per XksProxyUriEndpoint host, routed with RouteXKS. See
// Target.
//
// # Persistence
//
// With Options.StateFile the state lives in a bbolt database (one file,
// locked while the emulator has it open: a second emulator on the same
// file is refused at start). Every acknowledged change is one transaction
// that writes only the records it changed (a store, a key, a cluster, a
// VPC endpoint service, a route), before the request is answered. While
// the transaction is written the change is set aside: other changes wait,
// cryptographic operations go on with the state as the file holds it;
// when the write fails, the change is left out and the request answered
// 500, so a refused request changes nothing. Each record is sealed with
// AES-256-GCM under a key derived by PBKDF2-SHA256 from
// Options.Passphrase and filed under an HMAC of its id, so key material,
// secrets and ids are never on disk in clear. A missing directory, a file
// in use, a wrong passphrase, a JSON state file of an earlier version or a
// damaged file is a one-line error from New, and the file is left as it
// was.
package emulator
