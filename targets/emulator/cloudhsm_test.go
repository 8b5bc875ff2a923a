package emulator

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestCloudHSMStoreLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	e.cluster("cluster-abcdefghijk")
	id := e.createHSMStore("store-1", "cluster-abcdefghijk")

	got := e.describe(id)
	if got.ConnectionState != types.ConnectionStateTypeDisconnected || got.CustomKeyStoreType != types.CustomKeyStoreTypeAwsCloudhsm ||
		*got.CloudHsmClusterId != "cluster-abcdefghijk" || *got.TrustAnchorCertificate != testAnchor || got.CreationDate == nil {
		t.Fatalf("new store: %+v", got)
	}

	// CreateKey needs a connected store.
	_, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")

	must[*kms.ConnectCustomKeyStoreOutput](t)(e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	e.wantState(id, types.ConnectionStateTypeConnecting, "")
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	// KMS rotated the kmsuser password and keeps the new one to itself.
	if ok, _ := e.emu.CheckKmsUserPassword("cluster-abcdefghijk", testPassword); ok {
		t.Fatal("kmsuser password was not rotated on connect")
	}
	if c, _ := e.emu.Cluster("cluster-abcdefghijk"); c.KmsUser.Rotations != 1 || !c.KmsUser.KMSSession || c.KmsUser.Password != "" {
		t.Fatalf("kmsuser after connect: %+v", c.KmsUser)
	}

	key := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)}))
	md := key.KeyMetadata
	if md.KeyState != types.KeyStateEnabled || !md.Enabled || *md.CustomKeyStoreId != id || *md.CloudHsmClusterId != "cluster-abcdefghijk" ||
		md.Origin != types.OriginTypeAwsCloudhsm || md.CurrentKeyMaterialId != nil || md.KeySpec != types.KeySpecSymmetricDefault ||
		*md.Arn != "arn:aws:kms:us-east-1:111122223333:key/"+*md.KeyId {
		t.Fatalf("key metadata: %+v", md)
	}
	ec := map[string]string{"purpose": "test"}
	enc := must[*kms.EncryptOutput](t)(e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("secret"), EncryptionContext: ec}))
	dec := must[*kms.DecryptOutput](t)(e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))
	if !bytes.Equal(dec.Plaintext, []byte("secret")) || *dec.KeyId != *md.Arn {
		t.Fatalf("decrypt: %q %s", dec.Plaintext, *dec.KeyId)
	}
	_, err = e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	wantCode(t, err, "InvalidCiphertextException")

	rnd := must[*kms.GenerateRandomOutput](t)(e.kms.GenerateRandom(e.ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32), CustomKeyStoreId: aws.String(id)}))
	if len(rnd.Plaintext) != 32 {
		t.Fatalf("random: %d bytes", len(rnd.Plaintext))
	}

	// Disconnect: DISCONNECTING, keys Unavailable at once.
	must[*kms.DisconnectCustomKeyStoreOutput](t)(e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	e.wantState(id, types.ConnectionStateTypeDisconnecting, "")
	if s := e.keyState(*md.KeyId); s != types.KeyStateUnavailable {
		t.Fatalf("key while disconnecting: %s", s)
	}
	_, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	wantMessage(t, err, *md.Arn+" is unavailable.")
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeDisconnected, "")
	if c, _ := e.emu.Cluster("cluster-abcdefghijk"); c.KmsUser.KMSSession {
		t.Fatal("KMS still logged in after disconnect")
	}
	_, err = e.kms.GenerateRandom(e.ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8), CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")

	// Disable while Unavailable: accepted, visible only after reconnect.
	must[*kms.DisableKeyOutput](t)(e.kms.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: md.KeyId}))
	if s := e.keyState(*md.KeyId); s != types.KeyStateUnavailable {
		t.Fatalf("disabled key while disconnected: %s", s)
	}
	// The rotated password is what KMS stored, so reconnecting works.
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	if s := e.keyState(*md.KeyId); s != types.KeyStateDisabled {
		t.Fatalf("key after reconnect: %s", s)
	}
	_, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	must[*kms.EnableKeyOutput](t)(e.kms.EnableKey(e.ctx, &kms.EnableKeyInput{KeyId: md.KeyId}))

	// A deleted HSM key leaves the KeyState alone and fails crypto.
	if err := e.emu.SetBackingKeyDeleted(*md.KeyId, true); err != nil {
		t.Fatal(err)
	}
	_, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	if s := e.keyState(*md.KeyId); s != types.KeyStateEnabled {
		t.Fatalf("key with deleted backing: %s", s)
	}

	// Delete: not while connected, not with keys.
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	e.disconnect(id)
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreHasCMKsException")
	del := must[*kms.ScheduleKeyDeletionOutput](t)(e.kms.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)}))
	if del.KeyState != types.KeyStatePendingDeletion || *del.PendingWindowInDays != 7 {
		t.Fatalf("schedule: %+v", del)
	}
	if s := e.keyState(*md.KeyId); s != types.KeyStatePendingDeletion {
		t.Fatalf("pending deletion key on disconnected store: %s", s)
	}
	// Pending deletion keys still count.
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreHasCMKsException")
	e.clock.Advance(7*24*3600e9 + 1)
	_, err = e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	wantCode(t, err, "NotFoundException")
	must[*kms.DeleteCustomKeyStoreOutput](t)(e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	_, err = e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreNotFoundException")
}

func TestCloudHSMConnectFailures(t *testing.T) {
	cases := []struct {
		name   string
		breakC func(*Cluster)
		code   types.ConnectionErrorCodeType
	}{
		{"bad password", func(c *Cluster) { c.KmsUser.Password = "otherPassword" }, types.ConnectionErrorCodeTypeInvalidCredentials},
		{"no kmsuser", func(c *Cluster) { c.KmsUser = nil }, types.ConnectionErrorCodeTypeUserNotFound},
		{"kmsuser logged in", func(c *Cluster) { c.KmsUser.LoggedIn = true }, types.ConnectionErrorCodeTypeUserLoggedIn},
		{"kmsuser locked out", func(c *Cluster) { c.KmsUser.FailedLogins = 5 }, types.ConnectionErrorCodeTypeUserLockedOut},
		{"no active HSM", func(c *Cluster) { c.HSMs = nil }, types.ConnectionErrorCodeTypeInsufficientCloudhsmHsms},
		{"subnet deleted", func(c *Cluster) {
			c.Subnets = append(c.Subnets, Subnet{ID: "subnet-gone", AvailabilityZone: "us-east-1c", Private: true, Deleted: true})
		}, types.ConnectionErrorCodeTypeSubnetNotFound},
		{"subnet full", func(c *Cluster) { c.Subnets[0].FreeAddresses = 0 }, types.ConnectionErrorCodeTypeInsufficientFreeAddressesInSubnet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.cluster("cluster-abcdefghijk")
			id := e.createHSMStore("s", "cluster-abcdefghijk")
			if err := e.emu.UpdateCluster("cluster-abcdefghijk", tc.breakC); err != nil {
				t.Fatal(err)
			}
			e.connect(id)
			e.wantState(id, types.ConnectionStateTypeFailed, tc.code)
			// FAILED: Connect refused, Disconnect clears at once.
			_, err := e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
			wantCode(t, err, "CustomKeyStoreInvalidStateException")
			must[*kms.DisconnectCustomKeyStoreOutput](t)(e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
			e.wantState(id, types.ConnectionStateTypeDisconnected, "")
		})
	}
	t.Run("cluster deleted", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.cluster("cluster-abcdefghijk")
		id := e.createHSMStore("s", "cluster-abcdefghijk")
		_ = e.emu.DeleteCluster("cluster-abcdefghijk")
		e.connect(id)
		e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeClusterNotFound)
	})
	t.Run("lockout after five bad passwords", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.cluster("cluster-abcdefghijk")
		id := e.createHSMStore("s", "cluster-abcdefghijk")
		_ = e.emu.SetKmsUserPassword("cluster-abcdefghijk", "changedByCO")
		for i := 0; i < 5; i++ {
			e.connect(id)
			e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeInvalidCredentials)
			e.disconnect(id)
		}
		e.connect(id)
		e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeUserLockedOut)
		e.disconnect(id)
		// The documented recovery: reset the password, tell KMS, connect.
		_ = e.emu.SetKmsUserPassword("cluster-abcdefghijk", "newPassword1")
		must[*kms.UpdateCustomKeyStoreOutput](t)(e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), KeyStorePassword: aws.String("newPassword1")}))
		e.connect(id)
		e.wantState(id, types.ConnectionStateTypeConnected, "")
	})
	t.Run("synchronous fast failures stay DISCONNECTED", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.cluster("cluster-abcdefghijk")
		id := e.createHSMStore("s", "cluster-abcdefghijk")
		_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.SecurityGroupOK = false })
		_, err := e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		wantCode(t, err, "CloudHsmClusterInvalidConfigurationException")
		e.wantState(id, types.ConnectionStateTypeDisconnected, "")
		_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.SecurityGroupOK = true; c.State = "INITIALIZED" })
		_, err = e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		wantCode(t, err, "CloudHsmClusterNotActiveException")
		e.wantState(id, types.ConnectionStateTypeDisconnected, "")
	})
}

func TestCloudHSMCreateChecks(t *testing.T) {
	e := newEnv(t, Options{})
	e.cluster("cluster-abcdefghijk")
	create := func(name, cluster, anchor, pw string) error {
		_, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(name),
			CloudHsmClusterId: aws.String(cluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(pw)})
		return err
	}
	wantCode(t, create("a", "cluster-zzzzzzzzzzz", testAnchor, testPassword), "CloudHsmClusterNotFoundException")
	wantCode(t, create("a", "cluster-abcdefghijk", "other anchor", testPassword), "IncorrectTrustAnchorException")
	_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.State = "UNINITIALIZED" })
	wantCode(t, create("a", "cluster-abcdefghijk", testAnchor, testPassword), "CloudHsmClusterNotActiveException")
	_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.State = "ACTIVE"; c.HSMs = c.HSMs[:1] })
	wantCode(t, create("a", "cluster-abcdefghijk", testAnchor, testPassword), "CloudHsmClusterInvalidConfigurationException")
	_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) {
		c.HSMs = append(c.HSMs, HSM{ID: "hsm-2", AvailabilityZone: c.HSMs[0].AvailabilityZone, State: "ACTIVE"})
	})
	wantCode(t, create("a", "cluster-abcdefghijk", testAnchor, testPassword), "CloudHsmClusterInvalidConfigurationException")
	e.cluster("cluster-abcdefghijk")

	id := e.createHSMStore("a", "cluster-abcdefghijk")
	// Idempotent retry: same everything, store DISCONNECTED.
	if again := e.createHSMStore("a", "cluster-abcdefghijk"); again != id {
		t.Fatalf("idempotent create returned %s, want %s", again, id)
	}
	wantCode(t, create("a", "cluster-abcdefghijk", testAnchor, "differentPw"), "CustomKeyStoreNameInUseException")
	wantCode(t, create("b", "cluster-abcdefghijk", testAnchor, testPassword), "CloudHsmClusterInUseException")
	// A cluster sharing the backup history is in use too.
	related := NewHealthyCluster("cluster-relatedabcd", testAnchor, testPassword)
	related.BackupLineage = "cluster-abcdefghijk"
	_ = e.emu.PutCluster(related)
	wantCode(t, create("b", "cluster-relatedabcd", testAnchor, testPassword), "CloudHsmClusterInUseException")
	// Connected: the retry is no longer idempotent.
	e.connect(id)
	wantCode(t, create("a", "cluster-abcdefghijk", testAnchor, testPassword), "CustomKeyStoreNameInUseException")

	// Update: cluster swap only to a related cluster, only DISCONNECTED.
	_, err := e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), CloudHsmClusterId: aws.String("cluster-relatedabcd")})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	must[*kms.UpdateCustomKeyStoreOutput](t)(e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), NewCustomKeyStoreName: aws.String("renamed")}))
	e.disconnect(id)
	_ = e.emu.PutCluster(NewHealthyCluster("cluster-unrelatedab", "another anchor", testPassword))
	_, err = e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), CloudHsmClusterId: aws.String("cluster-unrelatedab")})
	wantCode(t, err, "CloudHsmClusterNotRelatedException")
	_, err = e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), CloudHsmClusterId: aws.String("cluster-missingabcd")})
	wantCode(t, err, "CloudHsmClusterNotFoundException")
	must[*kms.UpdateCustomKeyStoreOutput](t)(e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), CloudHsmClusterId: aws.String("cluster-relatedabcd")}))
	if got := e.describe(id); *got.CloudHsmClusterId != "cluster-relatedabcd" || *got.CustomKeyStoreName != "renamed" {
		t.Fatalf("after update: %+v", got)
	}
	_, err = e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), XksProxyUriPath: aws.String("/kms/xks/v1")})
	wantCode(t, err, "ValidationException")
}

func TestStoreQuotaAndDescribe(t *testing.T) {
	e := newEnv(t, Options{})
	var ids []string
	for i := 0; i < 10; i++ {
		cid := fmt.Sprintf("cluster-abcdefghij%c", 'a'+i)
		_ = e.emu.PutCluster(NewHealthyCluster(cid, testAnchor+cid, testPassword))
		out, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(fmt.Sprint("s", i)),
			CloudHsmClusterId: aws.String(cid), TrustAnchorCertificate: aws.String(testAnchor + cid), KeyStorePassword: aws.String(testPassword)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.CustomKeyStoreId)
	}
	_ = e.emu.PutCluster(NewHealthyCluster("cluster-abcdefghijz", testAnchor+"z", testPassword))
	_, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("eleventh"),
		CloudHsmClusterId: aws.String("cluster-abcdefghijz"), TrustAnchorCertificate: aws.String(testAnchor + "z"), KeyStorePassword: aws.String(testPassword)})
	wantCode(t, err, "LimitExceededException")

	// Pagination returns every store once, in creation order.
	var seen []string
	var marker *string
	for {
		out := must[*kms.DescribeCustomKeyStoresOutput](t)(e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{Limit: aws.Int32(3), Marker: marker}))
		for _, s := range out.CustomKeyStores {
			seen = append(seen, *s.CustomKeyStoreId)
		}
		if !out.Truncated {
			if out.NextMarker != nil {
				t.Fatal("NextMarker on the last page")
			}
			break
		}
		marker = out.NextMarker
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("pages: %v, want %v", seen, ids)
	}
	byName := must[*kms.DescribeCustomKeyStoresOutput](t)(e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("s4")}))
	if len(byName.CustomKeyStores) != 1 || *byName.CustomKeyStores[0].CustomKeyStoreId != ids[4] {
		t.Fatalf("by name: %+v", byName.CustomKeyStores)
	}
	_, err = e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("nope")})
	wantCode(t, err, "CustomKeyStoreNotFoundException")
	_, err = e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{Marker: aws.String("garbage")})
	wantCode(t, err, "InvalidMarkerException")
	_, err = e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{Limit: aws.Int32(0)})
	wantMessage(t, err, "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
}

func TestTransientStatesAndHold(t *testing.T) {
	e := newEnv(t, Options{})
	e.cluster("cluster-abcdefghijk")
	id := e.createHSMStore("s", "cluster-abcdefghijk")
	if err := e.emu.Hold(id); err != nil {
		t.Fatal(err)
	}
	must[*kms.ConnectCustomKeyStoreOutput](t)(e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeConnecting, "")
	// In CONNECTING: Connect is a no-op, Update and Delete are refused.
	must[*kms.ConnectCustomKeyStoreOutput](t)(e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	_, err := e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), NewCustomKeyStoreName: aws.String("x")})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	_, err = e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	// Break the cluster while held: the connect ends as the cluster is at
	// release time.
	_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.KmsUser.LoggedIn = true })
	_ = e.emu.Release(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeUserLoggedIn)
	_ = e.emu.UpdateCluster("cluster-abcdefghijk", func(c *Cluster) { c.KmsUser.LoggedIn = false })
	e.disconnect(id)
	_, err = e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	e.connect(id)
	// CONNECTED: Connect is a no-op (C-3).
	must[*kms.ConnectCustomKeyStoreOutput](t)(e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	_ = e.emu.Hold(id)
	must[*kms.DisconnectCustomKeyStoreOutput](t)(e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeDisconnecting, "")
	_, err = e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")
	_ = e.emu.Release(id)
	e.wantState(id, types.ConnectionStateTypeDisconnected, "")
}
