package web

import (
	"net/url"
	"testing"
)

// TestNumberStatesItsLimits: a number out of range is refused with the
// limits in the page's own language and number format.
func TestNumberStatesItsLimits(t *testing.T) {
	for lang, want := range map[string]string{
		"en": "Enter a number from 0.5 to 60.",
		"nl": "Vul een getal in van 0,5 tot en met 60.",
	} {
		for _, in := range []string{"61", "0,1", "twaalf"} {
			b := &submission{f: &form{Values: url.Values{"hours": {in}}, Errors: map[string]string{}}, lang: lang}
			if n := b.number("hours", true, 0.5, 60); n != 0 || b.f.E("hours") != want {
				t.Errorf("%s %q: %v, error %q, want %q", lang, in, n, b.f.E("hours"), want)
			}
		}
		b := &submission{f: &form{Values: url.Values{"hours": {"12,5"}}, Errors: map[string]string{}}, lang: lang}
		if n := b.number("hours", true, 0.5, 60); n != 12.5 || b.f.E("hours") != "" {
			t.Errorf("%s 12,5: %v %q", lang, n, b.f.E("hours"))
		}
	}
}
