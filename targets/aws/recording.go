package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// NormalizedAccount stands for the account id in a recording.
const NormalizedAccount = "000000000000"

var (
	storeIDPattern = regexp.MustCompile(`cks-[0-9a-f]{17}`)
	uuidPattern    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	arnAccount     = regexp.MustCompile(`(arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:)[0-9]{12}(:)`)
	runPrefix      = regexp.MustCompile(`kmsconform-[0-9a-zA-Z]+-p[0-9]+-(c[0-9]+-)?`)
)

// NormalizeRecording turns the compat.json of a run against real KMS into
// a recording that can be kept and shared: every secret given is replaced
// by "<redacted>", the account id (and any account in an ARN) by
// NormalizedAccount, store ids and UUIDs (key ids, request ids) by
// sequential ones in order of appearance, and the run's name prefixes by
// "kmsconform-run-". Two runs against the same behaviour then give the
// same recording up to timings, so `kmsconform report diff` compares
// behaviour, not ids. The input must be JSON; so is the output.
func NormalizeRecording(raw []byte, account string, secrets []string) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, errors.New("recording: not JSON")
	}
	s := string(raw)
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue // too short to tell from ordinary text; never a real secret
		}
		// A secret may appear JSON-escaped.
		esc, _ := json.Marshal(sec)
		s = strings.ReplaceAll(s, string(esc[1:len(esc)-1]), "<redacted>")
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	s = arnAccount.ReplaceAllString(s, "${1}"+NormalizedAccount+"${2}")
	if account != "" {
		s = strings.ReplaceAll(s, account, NormalizedAccount)
	}
	s = sequential(storeIDPattern, s, func(n int) string { return fmt.Sprintf("cks-%017x", n) })
	s = sequential(uuidPattern, s, func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) })
	s = runPrefix.ReplaceAllString(s, "kmsconform-run-")
	if !json.Valid([]byte(s)) {
		return nil, errors.New("recording: normalising broke the JSON") // a secret that was JSON syntax
	}
	return []byte(s), nil
}

// sequential replaces each distinct match by name(n), n counting from 1
// in order of first appearance.
func sequential(re *regexp.Regexp, s string, name func(int) string) string {
	seen := map[string]string{}
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if r, ok := seen[m]; ok {
			return r
		}
		r := name(len(seen) + 1)
		seen[m] = r
		return r
	})
}
