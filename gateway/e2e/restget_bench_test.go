package e2e_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkRESTGetTrajectory measures the authorized, audited REST GET of a
// trajectory through the gateway and the clients service, in one process
// (for CPU profiles: go test -bench RESTGet -cpuprofile); scripts/load
// measures the running platform.
func BenchmarkRESTGetTrajectory(b *testing.B) {
	e := startAll(b)
	d := seedDemo(b, e, 1, 0)
	req, err := http.NewRequest("GET", e.base+"/v1/clients/"+d.ids[0]+"/trajectory", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.p.Token(b, "es-anna"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(req.Clone(req.Context()))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("HTTP %d", resp.StatusCode)
				return
			}
		}
	})
}
