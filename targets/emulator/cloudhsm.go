package emulator

import (
	"crypto/rand"
	"math/big"
)

// Cluster is a simulated AWS CloudHSM cluster: what KMS inspects when it
// creates, updates or connects a CloudHSM key store (spec §2.1–§2.7).
type Cluster struct {
	ID string `json:"id"`
	// TrustAnchorCertificate is the cluster's customerCA.crt; Create and
	// Update compare it with the request byte for byte.
	TrustAnchorCertificate string `json:"trustAnchorCertificate"`
	// BackupLineage identifies a backup history. Clusters restored from
	// each other's backups share it ("related" clusters, spec §2.4); empty
	// means the cluster's own ID.
	BackupLineage string `json:"backupLineage,omitempty"`
	// State is the CloudHSM cluster state; only ACTIVE counts as
	// initialized and active.
	State   string   `json:"state"`
	HSMs    []HSM    `json:"hsms"`
	Subnets []Subnet `json:"subnets"`
	// SecurityGroupOK says the cluster security group allows TCP 2223-2225.
	SecurityGroupOK bool `json:"securityGroupOk"`
	// KmsUser is the kmsuser crypto user; nil means it does not exist.
	KmsUser *KmsUser `json:"kmsUser,omitempty"`
	// ConnectError, when set, is the ConnectionErrorCode every connect to
	// this cluster fails with once the cluster is found: NETWORK_ERRORS or
	// INTERNAL_ERROR, trouble that no other attribute of a cluster
	// explains.
	ConnectError string `json:"connectError,omitempty"`
}

// HSM is one HSM of a cluster.
type HSM struct {
	ID               string `json:"id"`
	AvailabilityZone string `json:"availabilityZone"`
	// State is the HSM state; only ACTIVE HSMs serve KMS.
	State string `json:"state"`
}

// Subnet is one subnet of the cluster's VPC configuration.
type Subnet struct {
	ID               string `json:"id"`
	AvailabilityZone string `json:"availabilityZone"`
	Private          bool   `json:"private"`
	FreeAddresses    int    `json:"freeAddresses"`
	Deleted          bool   `json:"deleted,omitempty"`
}

// KmsUser is the crypto user KMS logs in as.
type KmsUser struct {
	Password string `json:"password"`
	// LoggedIn means someone other than KMS holds a session, which stops
	// KMS from rotating the password (USER_LOGGED_IN).
	LoggedIn bool `json:"loggedIn,omitempty"`
	// FailedLogins counts consecutive bad passwords; at 5 the user is
	// locked out (spec §4.2 USER_LOCKED_OUT).
	FailedLogins int `json:"failedLogins,omitempty"`
	// KMSSession is true while a connected key store is logged in.
	KMSSession bool `json:"kmsSession,omitempty"`
	// Rotations counts the password changes KMS made on connect, so that
	// tests can observe rotation without the new password leaking.
	Rotations int `json:"rotations,omitempty"`
}

const maxFailedLogins = 5

// NewHealthyCluster returns an ACTIVE cluster that satisfies every KMS
// requirement: two active HSMs and two private subnets in two AZs, the
// security group rules, and a kmsuser with the given password.
func NewHealthyCluster(id, trustAnchor, kmsuserPassword string) *Cluster {
	return &Cluster{
		ID:                     id,
		TrustAnchorCertificate: trustAnchor,
		State:                  "ACTIVE",
		HSMs: []HSM{
			{ID: "hsm-" + randomHex(11), AvailabilityZone: "us-east-1a", State: "ACTIVE"},
			{ID: "hsm-" + randomHex(11), AvailabilityZone: "us-east-1b", State: "ACTIVE"},
		},
		Subnets: []Subnet{
			{ID: "subnet-" + randomHex(17), AvailabilityZone: "us-east-1a", Private: true, FreeAddresses: 10},
			{ID: "subnet-" + randomHex(17), AvailabilityZone: "us-east-1b", Private: true, FreeAddresses: 10},
		},
		SecurityGroupOK: true,
		KmsUser:         &KmsUser{Password: kmsuserPassword},
	}
}

func (c *Cluster) lineage() string {
	if c.BackupLineage != "" {
		return c.BackupLineage
	}
	return c.ID
}

func (c *Cluster) active() bool { return c.State == "ACTIVE" }

func (c *Cluster) activeHSMs() int {
	n := 0
	for _, h := range c.HSMs {
		if h.State == "ACTIVE" {
			n++
		}
	}
	return n
}

func (c *Cluster) activeHSMZones() int {
	zones := map[string]bool{}
	for _, h := range c.HSMs {
		if h.State == "ACTIVE" {
			zones[h.AvailabilityZone] = true
		}
	}
	return len(zones)
}

// networkProblem reports the "easily detected" configuration errors that
// KMS finds before it does anything (spec §2.1, §2.2): private subnets in
// fewer than 2 AZs, or no security group rules for KMS.
func (c *Cluster) networkProblem() string {
	zones := map[string]bool{}
	for _, s := range c.Subnets {
		if s.Private && !s.Deleted {
			zones[s.AvailabilityZone] = true
		}
	}
	if len(zones) < 2 {
		return "The cluster must have private subnets in at least two Availability Zones."
	}
	if !c.SecurityGroupOK {
		return "The cluster security group must allow inbound and outbound TCP traffic on ports 2223-2225."
	}
	return ""
}

// creationProblem is networkProblem plus the HSM requirement of Create,
// Update and CreateKey: 2 active HSMs in different AZs (spec §2.1).
func (c *Cluster) creationProblem() string {
	if p := c.networkProblem(); p != "" {
		return p
	}
	if c.activeHSMs() < 2 || c.activeHSMZones() < 2 {
		return "The cluster must contain at least two active HSMs in different Availability Zones."
	}
	return ""
}

// finishCloudHSMConnectLocked does what KMS does at the end of CONNECTING:
// it finds the cluster, checks its network, logs in as kmsuser and rotates
// the password. Every failure becomes FAILED with the code of spec §4.2.
func (e *Emulator) finishCloudHSMConnectLocked(s *store) {
	fail := func(code, detail string) {
		if e.mut(mutCloudHSMFailedNoCode) {
			code = ""
		}
		if code == "NETWORK_ERRORS" && e.mut(mutCloudHSMNetworkInternal) {
			code = "INTERNAL_ERROR"
		}
		s.setState(stateFailed, code, detail)
	}
	c := e.st.Clusters[s.ClusterID]
	if c == nil {
		fail("CLUSTER_NOT_FOUND", "The CloudHSM cluster was not found.")
		return
	}
	if c.ConnectError != "" {
		fail(c.ConnectError, "Injected connect error.")
		return
	}
	for _, sn := range c.Subnets {
		if sn.Deleted {
			fail("SUBNET_NOT_FOUND", "A subnet in the cluster configuration was deleted: "+sn.ID)
			return
		}
	}
	for _, sn := range c.Subnets {
		if sn.FreeAddresses < 1 {
			fail("INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET", "A subnet has no free IP address: "+sn.ID)
			return
		}
	}
	if !c.active() || c.activeHSMs() == 0 {
		fail("INSUFFICIENT_CLOUDHSM_HSMS", "The cluster has no active HSM.")
		return
	}
	u := c.KmsUser
	switch {
	case u == nil:
		fail("USER_NOT_FOUND", "The cluster has no kmsuser crypto user.")
		return
	case u.FailedLogins >= maxFailedLogins:
		fail("USER_LOCKED_OUT", "The kmsuser crypto user is locked out.")
		return
	case u.LoggedIn:
		fail("USER_LOGGED_IN", "The kmsuser crypto user is logged in; KMS cannot rotate its password.")
		return
	case u.Password != s.Password:
		if !e.mut(mutLockoutNotCounted) {
			u.FailedLogins++
		}
		fail("INVALID_CREDENTIALS", "The key store password does not match the kmsuser password.")
		return
	}
	u.FailedLogins = 0
	// KMS rotates the kmsuser password on every connect and keeps the new
	// one to itself (spec §2.2).
	pw := randomPassword(32)
	u.Password, s.Password = pw, pw
	u.Rotations++
	u.KMSSession = true
	s.setState(stateConnected, "", "")
	if e.mut(mutReconnectResetsKeys) {
		for _, k := range e.st.Keys {
			if k.StoreID == s.ID && k.State == keyDisabled {
				k.State = keyEnabled
				e.touchKeyLocked(k.ID)
			}
		}
	}
}

// endSessionLocked logs KMS out of the store's backing at disconnect.
func (e *Emulator) endSessionLocked(s *store) {
	if s.Type != typeCloudHSM {
		return
	}
	if c := e.st.Clusters[s.ClusterID]; c != nil && c.KmsUser != nil {
		c.KmsUser.KMSSession = false
	}
}

func randomPassword(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		x, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[x.Int64()]
	}
	return string(b)
}
