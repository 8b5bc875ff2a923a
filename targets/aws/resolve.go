package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// A create whose answer was lost (Ctrl-C while it was in flight, a
// timeout after KMS acted, a cut connection) is in the ledger as an
// Intent. resolve finds what it made by what the create sent, and adopts
// it, so the cleanup removes it:
//
//   - a store, by its name (DescribeCustomKeyStores with that exact
//     CustomKeyStoreName: names are unique in an account, and the run's
//     prefix makes it the run's);
//   - an alias, by its name (DescribeKey of the alias: the run's prefix);
//   - a key, by its place or its tag. KMS can look a key up by neither, so
//     the guard reads the metadata of the account's keys (ListKeys,
//     DescribeKey: reads, bounded by maxKeysRead): a key in the store the
//     create named — a store of the run — is the run's; any other key is
//     the run's only if ListResourceTags shows the create's own
//     CreateTagKey value. The guard acts on nothing else it reads.
//
// A create that finds nothing is looked for again once the settle time
// has passed since it was sent, then taken to have made nothing. One
// whose lookup fails, or whose key cannot be proven, is a leftover.

// maxKeysRead bounds the keys whose metadata one resolve reads.
const maxKeysRead = 2000

// found is what a lookup found of one intent.
type found int

const (
	foundNothing found = iota
	foundIt
	lookupFailed
)

func (g *Guard) resolve(ctx context.Context, c *kms.Client) []Leftover {
	intents := g.Pending()
	if len(intents) == 0 {
		return nil
	}
	g.mu.Lock()
	settle := g.settle
	g.mu.Unlock()
	var left []Leftover
	for pass := 0; pass < 2 && len(intents) > 0; pass++ {
		if pass == 1 {
			latest := intents[len(intents)-1].Sent
			if d := time.Until(latest.Add(settle)); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		results, why := g.lookUp(ctx, c, intents)
		var again []Intent
		for _, in := range intents {
			switch r := results[in.ID]; {
			case r == foundIt:
				g.settled(in.ID)
			case r == foundNothing && (pass == 1 || time.Since(in.Sent) >= settle):
				g.settled(in.ID)
			case r == foundNothing:
				again = append(again, in)
			case pass == 1 || ctx.Err() != nil:
				kind, id := in.what()
				left = append(left, Leftover{kind, id, in.Op + "'s answer was lost (" + in.Lost + ") and " + why[in.ID]})
			default:
				again = append(again, in)
			}
		}
		intents = again
		if ctx.Err() != nil {
			break
		}
	}
	for _, in := range intents {
		if ctx.Err() != nil {
			kind, id := in.what()
			left = append(left, Leftover{kind, id, "the cleanup was stopped before the outcome of its " + in.Op + " was known (" + in.Lost + ")"})
		}
	}
	_ = g.persist()
	return left
}

// settled drops an intent whose outcome is now known.
func (g *Guard) settled(id string) {
	g.mu.Lock()
	delete(g.intents, id)
	g.mu.Unlock()
	_ = g.persist()
}

// lookUp looks for what each intent made, adopting what it finds; why
// says, for a failed lookup, what failed.
func (g *Guard) lookUp(ctx context.Context, c *kms.Client, intents []Intent) (map[string]found, map[string]string) {
	results, why := map[string]found{}, map[string]string{}
	var keys []Intent
	for _, in := range intents {
		switch in.Op {
		case "CreateCustomKeyStore":
			out, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String(in.Name)})
			switch {
			case isCode(err, "CustomKeyStoreNotFoundException"):
				results[in.ID] = foundNothing
			case err != nil:
				results[in.ID], why[in.ID] = lookupFailed, "the lookup of its name failed: "+errText(err)
			default:
				results[in.ID] = foundNothing
				for _, s := range out.CustomKeyStores {
					if aws.ToString(s.CustomKeyStoreName) == in.Name && aws.ToString(s.CustomKeyStoreId) != "" {
						g.adoptStore(aws.ToString(s.CustomKeyStoreId), in.Name)
						results[in.ID] = foundIt
					}
				}
			}
		case "CreateAlias":
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(in.Name)})
			switch {
			case isCode(err, "NotFoundException"):
				results[in.ID] = foundNothing
			case err != nil:
				results[in.ID], why[in.ID] = lookupFailed, "the lookup of its name failed: "+errText(err)
			default:
				g.mu.Lock()
				g.aliases[in.Name] = true
				g.mu.Unlock()
				results[in.ID] = foundIt
			}
		default:
			keys = append(keys, in)
		}
	}
	if len(keys) > 0 {
		g.lookUpKeys(ctx, c, keys, results, why)
	}
	_ = g.persist()
	return results, why
}

func (g *Guard) adoptStore(id, name string) {
	g.mu.Lock()
	if _, known := g.stores[id]; !known {
		g.stores[id] = true
	}
	g.storeNames[id] = name
	g.mu.Unlock()
}

// lookUpKeys reads the metadata of the account's keys the run does not
// know, and adopts those a lost CreateKey made (see above).
func (g *Guard) lookUpKeys(ctx context.Context, c *kms.Client, intents []Intent, results map[string]found, why map[string]string) {
	fail := func(reason string) {
		for _, in := range intents {
			results[in.ID], why[in.ID] = lookupFailed, reason
		}
	}
	byStore := map[string][]string{} // store → intents naming it
	tagged := map[string]bool{}      // intents without a store: their tag values
	for _, in := range intents {
		results[in.ID] = foundNothing
		if in.Store != "" {
			byStore[in.Store] = append(byStore[in.Store], in.ID)
		} else {
			tagged[in.ID] = true
		}
	}
	var ids []string
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: marker, Limit: aws.Int32(1000)})
		if err != nil {
			fail("listing the keys to find it failed: " + errText(err))
			return
		}
		for _, k := range out.Keys {
			ids = append(ids, aws.ToString(k.KeyId))
		}
		if !out.Truncated || out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
		if len(ids) > maxKeysRead {
			break
		}
	}
	g.mu.Lock()
	unknown := ids[:0]
	for _, id := range ids {
		if _, ours := g.keys[id]; !ours {
			unknown = append(unknown, id)
		}
	}
	g.mu.Unlock()
	if len(unknown) > maxKeysRead {
		fail(fmt.Sprintf("the account has more than %d keys the run does not know: too many to read", maxKeysRead))
		return
	}
	var unproven []string
	var tagErr string
	for _, id := range unknown {
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if isCode(err, "NotFoundException") {
			continue
		}
		if err != nil || out.KeyMetadata == nil {
			fail("reading key " + id + " failed: " + errText(err))
			return
		}
		md := out.KeyMetadata
		if s := aws.ToString(md.CustomKeyStoreId); s != "" {
			// In a store a lost create named, which is the run's (the
			// guard let the create name no other): the run's key.
			if len(byStore[s]) > 0 {
				g.mu.Lock()
				g.adoptKeyLocked(md)
				g.mu.Unlock()
				for _, in := range byStore[s] {
					results[in] = foundIt
				}
			}
			continue
		}
		if len(tagged) == 0 || md.KeyManager != types.KeyManagerTypeCustomer || md.KeyState == types.KeyStatePendingDeletion {
			continue
		}
		tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
		if err != nil {
			unproven = append(unproven, id)
			tagErr = errText(err)
			continue
		}
		for _, t := range tags.Tags {
			if aws.ToString(t.TagKey) == CreateTagKey && tagged[aws.ToString(t.TagValue)] {
				g.mu.Lock()
				g.adoptKeyLocked(md)
				g.mu.Unlock()
				results[aws.ToString(t.TagValue)] = foundIt
			}
		}
	}
	if len(unproven) == 0 {
		return
	}
	sort.Strings(unproven)
	shown := unproven
	if len(shown) > 5 {
		shown = shown[:5]
	}
	reason := fmt.Sprintf("%d key(s) it may have made could not be checked for its tag (ListResourceTags: %s): %s",
		len(unproven), tagErr, strings.Join(shown, ", "))
	for id := range tagged {
		if results[id] != foundIt {
			results[id], why[id] = lookupFailed, reason
		}
	}
}
