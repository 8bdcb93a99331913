package domain

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// The scale versions shipped with the service, one JSON file each. A new
// revision or a national variant is a new file (a new version id), never an
// edit of a file a review may already have been scored on: the migration
// seeds each version once and reviews keep the version they started with.
//
//go:embed scales/*.json
var scaleFiles embed.FS

// Text is a text in Dutch and English.
type Text struct {
	NL string `json:"nl"`
	EN string `json:"en"`
}

// In returns the text in lang ("nl" or anything else for English).
func (t Text) In(lang string) string {
	if lang == "nl" && t.NL != "" {
		return t.NL
	}
	return t.EN
}

// Band is a range of totals with its name.
type Band struct {
	Code string `json:"code"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
	NL   string `json:"nl"`
	EN   string `json:"en"`
}

// Part is one of a scale's parts (staffing, organisation, services).
type Part struct {
	Code string `json:"code"`
	NL   string `json:"nl"`
	EN   string `json:"en"`
}

// Direction says whether a measured figure is better low or high.
type Direction string

const (
	LowerBetter  Direction = "lower_better"
	HigherBetter Direction = "higher_better"
)

// Measure is how the platform scores an item from its own figure with the
// item's anchors: Cuts are the thresholds of scores 5, 4, 3 and 2. Lower
// better: a figure at most Cuts[0] scores 5, at most Cuts[1] scores 4, and
// so on; above Cuts[3] it scores 1. Higher better: at least Cuts[0]
// scores 5, ...; below Cuts[3] it scores 1.
type Measure struct {
	Metric    string    `json:"metric"`
	Direction Direction `json:"direction"`
	Cuts      []float64 `json:"cuts"`
	Unit      Text      `json:"unit"`
}

// Score returns the anchor (1–5) a figure reaches.
func (m Measure) Score(v float64) int {
	for i, c := range m.Cuts {
		if (m.Direction == LowerBetter && v <= c) || (m.Direction == HigherBetter && v >= c) {
			return 5 - i
		}
	}
	return 1
}

// Item is one item of a scale.
type Item struct {
	Code        string          `json:"code"`
	Part        string          `json:"part"`
	Key         string          `json:"key"`
	Title       Text            `json:"title"`
	Description Text            `json:"description"`
	Sources     []string        `json:"sources"`
	Anchors     map[string]Text `json:"anchors"`
	// Measure is set for an item the platform can score from its data.
	Measure *Measure `json:"measure,omitempty"`
}

// Anchor returns the text of anchor score (1–5).
func (it Item) Anchor(score int) Text { return it.Anchors[strconv.Itoa(score)] }

// WageFrom is a statutory minimum hourly wage valid from a date.
type WageFrom struct {
	From  string `json:"from"`
	Cents int64  `json:"cents"`
}

// Scale is one version of a fidelity scale.
type Scale struct {
	ID          string          `json:"id"`
	Name        Text            `json:"name"`
	Note        Text            `json:"note"`
	MinTotal    int             `json:"min_total"`
	MaxTotal    int             `json:"max_total"`
	Bands       []Band          `json:"bands"`
	DataSources map[string]Text `json:"data_sources"`
	Parts       []Part          `json:"parts"`
	Items       []Item          `json:"items"`
	// MinimumWage is the statutory minimum hourly wage (adults) by date: a
	// job paying at least this is counted as competitive.
	MinimumWage []WageFrom `json:"minimum_hourly_wage_cents"`
}

// Item returns the item with code.
func (s *Scale) Item(code string) (Item, bool) {
	i := slices.IndexFunc(s.Items, func(it Item) bool { return it.Code == code })
	if i < 0 {
		return Item{}, false
	}
	return s.Items[i], true
}

// ItemByMetric returns the item a platform metric scores.
func (s *Scale) ItemByMetric(metric string) (Item, bool) {
	i := slices.IndexFunc(s.Items, func(it Item) bool { return it.Measure != nil && it.Measure.Metric == metric })
	if i < 0 {
		return Item{}, false
	}
	return s.Items[i], true
}

// Band returns the band of a total; ok is false outside the scale's range.
func (s *Scale) Band(total int) (Band, bool) {
	for _, b := range s.Bands {
		if total >= b.Min && total <= b.Max {
			return b, true
		}
	}
	return Band{}, false
}

// MinimumWageOn returns the minimum hourly wage in cents on day d; 0 when
// the scale holds none for that day.
func (s *Scale) MinimumWageOn(d time.Time) int64 {
	var cents int64
	for _, w := range s.MinimumWage {
		from, err := time.Parse(time.DateOnly, w.From)
		if err == nil && !from.After(d) {
			cents = w.Cents
		}
	}
	return cents
}

// check reports a scale file that cannot be used: every item needs five
// anchors in both languages, a known part, known data sources; measured
// items need four ordered cuts; the bands must cover the total range
// without gaps or overlaps.
func (s *Scale) check() error {
	if s.ID == "" {
		return fmt.Errorf("scale without id")
	}
	if s.MinTotal != len(s.Items) || s.MaxTotal != 5*len(s.Items) {
		return fmt.Errorf("scale %s: totals %d–%d do not match %d items", s.ID, s.MinTotal, s.MaxTotal, len(s.Items))
	}
	seen := map[string]bool{}
	for _, it := range s.Items {
		if it.Code == "" || seen[it.Code] {
			return fmt.Errorf("scale %s: item code %q missing or repeated", s.ID, it.Code)
		}
		seen[it.Code] = true
		if !slices.ContainsFunc(s.Parts, func(p Part) bool { return p.Code == it.Part }) {
			return fmt.Errorf("scale %s item %s: unknown part %q", s.ID, it.Code, it.Part)
		}
		if it.Title.NL == "" || it.Title.EN == "" || it.Description.NL == "" || it.Description.EN == "" {
			return fmt.Errorf("scale %s item %s: title and description need Dutch and English", s.ID, it.Code)
		}
		for score := 1; score <= 5; score++ {
			if a := it.Anchor(score); a.NL == "" || a.EN == "" {
				return fmt.Errorf("scale %s item %s: anchor %d needs Dutch and English", s.ID, it.Code, score)
			}
		}
		if len(it.Anchors) != 5 {
			return fmt.Errorf("scale %s item %s: %d anchors, want 5", s.ID, it.Code, len(it.Anchors))
		}
		if len(it.Sources) == 0 {
			return fmt.Errorf("scale %s item %s: no data sources", s.ID, it.Code)
		}
		for _, src := range it.Sources {
			if _, ok := s.DataSources[src]; !ok {
				return fmt.Errorf("scale %s item %s: unknown data source %q", s.ID, it.Code, src)
			}
		}
		if m := it.Measure; m != nil {
			if len(m.Cuts) != 4 {
				return fmt.Errorf("scale %s item %s: %d cuts, want 4", s.ID, it.Code, len(m.Cuts))
			}
			for i := 1; i < 4; i++ {
				if (m.Direction == LowerBetter && m.Cuts[i] <= m.Cuts[i-1]) || (m.Direction == HigherBetter && m.Cuts[i] >= m.Cuts[i-1]) {
					return fmt.Errorf("scale %s item %s: cuts %v out of order for %s", s.ID, it.Code, m.Cuts, m.Direction)
				}
			}
			if m.Direction != LowerBetter && m.Direction != HigherBetter {
				return fmt.Errorf("scale %s item %s: unknown direction %q", s.ID, it.Code, m.Direction)
			}
		}
	}
	bands := slices.Clone(s.Bands)
	sort.Slice(bands, func(i, j int) bool { return bands[i].Min < bands[j].Min })
	next := s.MinTotal
	for _, b := range bands {
		if b.Min != next || b.Max < b.Min {
			return fmt.Errorf("scale %s: bands leave a gap or overlap at %d", s.ID, next)
		}
		next = b.Max + 1
	}
	if next != s.MaxTotal+1 {
		return fmt.Errorf("scale %s: bands end at %d, not %d", s.ID, next-1, s.MaxTotal)
	}
	return nil
}

// Scales are the scale versions shipped with the service, by id.
type Scales map[string]*Scale

// LoadScales reads and checks every embedded scale version.
func LoadScales() (Scales, error) {
	out := Scales{}
	err := fs.WalkDir(scaleFiles, "scales", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := scaleFiles.ReadFile(path)
		if err != nil {
			return err
		}
		var s Scale
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("scale file %s: %w", path, err)
		}
		if err := s.check(); err != nil {
			return fmt.Errorf("scale file %s: %w", path, err)
		}
		if out[s.ID] != nil {
			return fmt.Errorf("scale file %s: version %s defined twice", path, s.ID)
		}
		out[s.ID] = &s
		return nil
	})
	return out, err
}

// ScaleJSON returns the embedded file of a version, for the migration that
// seeds it.
func ScaleJSON() (map[string][]byte, error) {
	out := map[string][]byte{}
	scales, err := LoadScales()
	if err != nil {
		return nil, err
	}
	for id, s := range scales {
		raw, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		out[id] = raw
	}
	return out, nil
}

// Round1 rounds a figure to one decimal for display and scoring, so that a
// figure shown as 20.0 never scores as 20.04.
func Round1(v float64) float64 { return math.Round(v*10) / 10 }
