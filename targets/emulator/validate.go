package emulator

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// violations collects constraint failures the way real KMS reports them:
// every failed constraint of every member, in one ValidationException whose
// message starts "N validation error(s) detected:" (spec §1.1).
type violations struct {
	msgs []string
}

// Shape patterns from botocore's KMS model (spec §1.1). They are anchored
// here even where the model's text is not, because AWS matches whole values.
var (
	patCluster     = pattern(`cluster-[2-7a-zA-Z]{11,16}`)
	patUriEndpoint = pattern(`^https://[a-zA-Z0-9.-]+$`)
	patUriPath     = pattern(`^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`)
	patVpcService  = pattern(`^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$`)
	patAccountID   = pattern(`[0-9]{12}`)
	patAccessKeyID = pattern(`^[A-Z2-7]+$`)
	patSecretKey   = pattern(`^[a-zA-Z0-9\/+=]+$`)
	patXksKeyID    = pattern(`^[a-zA-Z0-9-_.]+$`)
	patMarker      = pattern(`[\x{0020}-\x{00FF}]*`)
)

type namedPattern struct {
	text string
	re   *regexp.Regexp
}

func pattern(text string) namedPattern {
	anchored := text
	if !strings.HasPrefix(text, "^") {
		anchored = "^(?:" + text + ")$"
	}
	return namedPattern{text: text, re: regexp.MustCompile(anchored)}
}

func (v *violations) add(value *string, sensitive bool, at, constraint string) {
	var val string
	switch {
	case sensitive:
		// AWS omits the value of a sensitive member from the message; so
		// must we, or a bad password would be echoed back.
		val = "Value"
	case value == nil:
		val = "Value null"
	default:
		val = fmt.Sprintf("Value '%s'", *value)
	}
	v.msgs = append(v.msgs, fmt.Sprintf("%s at '%s' failed to satisfy constraint: %s", val, at, constraint))
}

// str checks a string member. min and max count characters; pat may be zero.
func (v *violations) str(at string, s *string, required bool, min, max int, pat namedPattern, sensitive bool) {
	if s == nil {
		if required {
			v.add(nil, false, at, "Member must not be null")
		}
		return
	}
	n := utf8.RuneCountInString(*s)
	if n < min {
		v.add(s, sensitive, at, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if max > 0 && n > max {
		v.add(s, sensitive, at, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	if pat.re != nil && !pat.re.MatchString(*s) {
		v.add(s, sensitive, at, "Member must satisfy regular expression pattern: "+pat.text)
	}
}

func (v *violations) enum(at string, s *string, required bool, values ...string) {
	if s == nil {
		if required {
			v.add(nil, false, at, "Member must not be null")
		}
		return
	}
	for _, ok := range values {
		if *s == ok {
			return
		}
	}
	v.add(s, false, at, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

func (v *violations) intRange(at string, n *int64, required bool, min, max int64) {
	if n == nil {
		if required {
			v.add(nil, false, at, "Member must not be null")
		}
		return
	}
	s := fmt.Sprint(*n)
	if *n < min {
		v.add(&s, false, at, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	}
	if *n > max {
		v.add(&s, false, at, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

func (v *violations) blob(at string, b []byte, present, required bool, min, max int) {
	if !present {
		if required {
			v.add(nil, false, at, "Member must not be null")
		}
		return
	}
	if len(b) < min {
		v.add(nil, true, at, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if max > 0 && len(b) > max {
		v.add(nil, true, at, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

func (v *violations) err() *apiError {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return clientErr(errValidation, "1 validation error detected: %s", v.msgs[0])
	default:
		return clientErr(errValidation, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
	}
}

// invalid builds a single-message ValidationException for rules that are not
// shape constraints (parameter combinations), which AWS words freely.
func invalid(format string, args ...any) *apiError {
	return clientErr(errValidation, format, args...)
}
