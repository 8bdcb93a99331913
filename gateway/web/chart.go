package web

import (
	"fmt"
	"html/template"
	"strings"
)

// bar is one bar of a chart: a label and a value, or a suppressed group.
type bar struct {
	Label string
	Value float64
	// Text is what the bar says (the value, or "< 5").
	Text   string
	Hidden bool
}

// barChart renders a horizontal bar chart as inline SVG: no script, no
// external file, readable by screen readers through its title and the data
// table the page puts beside it. Suppressed groups get a hatched stub.
func barChart(id, title string, bars []bar) template.HTML {
	const (
		width    = 560
		labelW   = 190
		rowH     = 26
		barH     = 18
		valueW   = 60
		topPad   = 4
		plotW    = width - labelW - valueW
		minStubW = 12
	)
	max := 0.0
	for _, b := range bars {
		if !b.Hidden && b.Value > max {
			max = b.Value
		}
	}
	height := topPad*2 + rowH*len(bars)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title" class="chart-svg">`, width, height, esc(id))
	fmt.Fprintf(&sb, `<title id="%s-title">%s</title>`, esc(id), esc(title))
	sb.WriteString(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#4a5260" stroke-width="2"/></pattern></defs>`)
	fmt.Fprintf(&sb, `<line class="axis" x1="%d" y1="0" x2="%d" y2="%d"/>`, labelW, labelW, height)
	for i, b := range bars {
		y := topPad + i*rowH
		fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+barH-4, esc(b.Label))
		w := 0.0
		class := "bar"
		switch {
		case b.Hidden:
			w, class = minStubW, "bar hidden"
		case max > 0:
			w = b.Value / max * plotW
		}
		if w > 0 {
			fmt.Fprintf(&sb, `<rect class="%s" x="%d" y="%d" width="%.1f" height="%d"/>`, class, labelW+1, y, w, barH)
		}
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d">%s</text>`, float64(labelW)+w+6, y+barH-4, esc(b.Text))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // every text above went through esc
}

func esc(s string) string { return template.HTMLEscapeString(s) }
