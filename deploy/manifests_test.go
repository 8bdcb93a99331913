package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	manifestDir = "k8s"
	namespace   = "ipsbridge"
	// imageRepo is the registry path of every image; the tag is set per
	// release with kustomize.
	imageRepo      = "registry.example.org/ipsbridge/"
	databaseSecret = "ipsbridge-database"
	// ownerSecret holds the owner role that runs migrations (Jobs only).
	ownerSecret = "ipsbridge-database-owner"
	// sealingSecret holds the operator keys that seal webhook signing
	// secrets (events and the dispatcher only).
	sealingSecret = "ipsbridge-webhook-sealing"

	labelName      = "app.kubernetes.io/name"
	labelComponent = "app.kubernetes.io/component"
	labelPartOf    = "app.kubernetes.io/part-of"

	componentService   = "service"
	componentGateway   = "gateway"
	componentMigration = "migration"
	// componentWorker is a Deployment that serves nothing: the dispatcher.
	// It has no Service, answers only the kubelet's probes and reaches
	// PostgreSQL and the internet.
	componentWorker = "worker"
)

// manifests is every object of the kustomization, by kind and name.
type manifests struct {
	namespaces      map[string]*corev1.Namespace
	configMaps      map[string]*corev1.ConfigMap
	serviceAccounts map[string]*corev1.ServiceAccount
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	jobs            map[string]*batchv1.Job
	pdbs            map[string]*policyv1.PodDisruptionBudget
	netpols         map[string]*networkingv1.NetworkPolicy
}

// pod is a pod template of a Deployment or a Job.
type pod struct {
	owner  string // "Deployment/clients"
	labels map[string]string
	spec   *corev1.PodSpec
}

func (m *manifests) pods() []pod {
	var ps []pod
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		ps = append(ps, pod{"Deployment/" + name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, name := range sortedKeys(m.jobs) {
		j := m.jobs[name]
		ps = append(ps, pod{"Job/" + name, j.Spec.Template.Labels, &j.Spec.Template.Spec})
	}
	return ps
}

// kustomization is the part of kustomize's Kustomization we use; decoding
// it strictly catches a misspelt field.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// newObject returns an empty object of the Go type for a document's
// apiVersion and kind. A kind not listed here is an error: add it, with its
// checks, when the manifests need it.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", apiVersion, kind)
}

// decodeStrict decodes one YAML document into obj and fails on unknown or
// duplicate fields.
func decodeStrict(doc []byte, obj any) error {
	return yaml.UnmarshalStrict(doc, obj)
}

// splitDocuments returns the non-empty YAML documents of a file.
func splitDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if isEmptyDocument(doc) {
			continue
		}
		docs = append(docs, doc)
	}
}

func isEmptyDocument(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var k kustomization
	data, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: apiVersion/kind = %s/%s", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml: namespace = %q, want %q", k.Namespace, namespace)
	}

	// Every manifest file is listed, and every listed file exists.
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			onDisk = append(onDisk, base)
		}
	}
	listed := slices.Clone(k.Resources)
	sort.Strings(listed)
	if !slices.Equal(onDisk, listed) {
		t.Errorf("kustomization.yaml resources %v, files in %s %v: list every manifest exactly once", listed, manifestDir, onDisk)
	}

	m := &manifests{
		namespaces:      map[string]*corev1.Namespace{},
		configMaps:      map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		jobs:            map[string]*batchv1.Job{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		netpols:         map[string]*networkingv1.NetworkPolicy{},
	}
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(manifestDir, res))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", res, err)
		}
		docs, err := splitDocuments(data)
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		if len(docs) == 0 {
			t.Errorf("%s: no objects", res)
		}
		for i, doc := range docs {
			where := fmt.Sprintf("%s, document %d", res, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			obj, err := newObject(tm.APIVersion, tm.Kind)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := decodeStrict(doc, obj); err != nil {
				t.Fatalf("%s (%s): %v", where, tm.Kind, err)
			}
			meta := obj.(metav1.Object)
			where = fmt.Sprintf("%s: %s/%s", res, tm.Kind, meta.GetName())
			checkMetadata(t, where, tm.Kind, meta)
			if !m.add(obj) {
				t.Errorf("%s: defined twice", where)
			}
		}
	}
	return m
}

// add files obj under its kind and name and reports whether it was new.
func (m *manifests) add(obj any) bool {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return put(m.namespaces, o.Name, o)
	case *corev1.ConfigMap:
		return put(m.configMaps, o.Name, o)
	case *corev1.ServiceAccount:
		return put(m.serviceAccounts, o.Name, o)
	case *corev1.Service:
		return put(m.services, o.Name, o)
	case *appsv1.Deployment:
		return put(m.deployments, o.Name, o)
	case *batchv1.Job:
		return put(m.jobs, o.Name, o)
	case *policyv1.PodDisruptionBudget:
		return put(m.pdbs, o.Name, o)
	case *networkingv1.NetworkPolicy:
		return put(m.netpols, o.Name, o)
	}
	panic(fmt.Sprintf("no map for %T", obj))
}

func put[T any](m map[string]T, name string, v T) bool {
	if _, ok := m[name]; ok {
		return false
	}
	m[name] = v
	return true
}

func checkMetadata(t *testing.T, where, kind string, meta metav1.Object) {
	t.Helper()
	if errs := validation.IsDNS1123Label(meta.GetName()); len(errs) > 0 {
		t.Errorf("%s: name: %s", where, strings.Join(errs, "; "))
	}
	if kind == "Namespace" {
		if meta.GetNamespace() != "" {
			t.Errorf("%s: a Namespace has no namespace", where)
		}
	} else if meta.GetNamespace() != namespace {
		t.Errorf("%s: namespace = %q, want %q", where, meta.GetNamespace(), namespace)
	}
	if meta.GetLabels()[labelPartOf] != "ipsbridge" {
		t.Errorf("%s: label %s=ipsbridge missing", where, labelPartOf)
	}
	for k, v := range meta.GetLabels() {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%s: label %s: %s", where, k, strings.Join(errs, "; "))
		}
	}
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	// The guard for everything below: a misspelt field must not pass.
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n")
	if err := decodeStrict(doc, &appsv1.Deployment{}); err == nil {
		t.Fatal("strict decoding accepted the unknown field spec.replica")
	}
	dup := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n")
	if err := decodeStrict(dup, &corev1.ConfigMap{}); err == nil {
		t.Fatal("strict decoding accepted a duplicate field")
	}
}

func TestManifestsDecode(t *testing.T) {
	m := loadManifests(t)
	if _, ok := m.namespaces[namespace]; !ok {
		t.Errorf("no Namespace %s", namespace)
	}
	ns := m.namespaces[namespace]
	if ns != nil && ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("Namespace %s: Pod Security level %q, want restricted", namespace, ns.Labels["pod-security.kubernetes.io/enforce"])
	}
	if len(m.deployments) == 0 || len(m.services) == 0 || len(m.jobs) == 0 {
		t.Fatalf("found %d Deployments, %d Services, %d Jobs", len(m.deployments), len(m.services), len(m.jobs))
	}
	for _, name := range sortedKeys(m.serviceAccounts) {
		sa := m.serviceAccounts[name]
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount/%s: automountServiceAccountToken must be false", name)
		}
	}
}

// TestEveryBinaryIsDeployed: every main package under services/ has its
// Deployment and migrate Job, and so does the gateway (without the Job);
// the services and the gateway have a Service, a worker has none.
func TestEveryBinaryIsDeployed(t *testing.T) {
	m := loadManifests(t)
	want := []string{componentGateway}
	want = append(want, mainPackages(t, filepath.Join("..", "services"))...)
	// The generic checks below cover a binary only if it is found here; these
	// must not drop out unnoticed.
	for _, name := range []string{"clients", "employment", "benefits", "events", "dispatcher"} {
		if !slices.Contains(want, name) {
			t.Errorf("./services/%s is not a main package", name)
		}
	}
	for _, name := range want {
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s for ./%s", name, mainDir(name))
			continue
		}
		_, hasService := m.services[name]
		switch d.Labels[labelComponent] {
		case componentService, componentGateway:
			if !hasService {
				t.Errorf("no Service %s", name)
			}
		case componentWorker:
			if hasService {
				t.Errorf("Service %s: the worker %s serves nothing", name, name)
			}
		}
		if d.Labels[labelComponent] == componentService || d.Labels[labelComponent] == componentWorker {
			if _, ok := m.jobs[name+"-migrate"]; !ok {
				t.Errorf("no Job %s-migrate", name)
			}
		}
	}
}

// mainDir is the main package an image is built from (the Dockerfile's MAIN).
func mainDir(name string) string {
	if name == componentGateway {
		return "gateway"
	}
	return "services/" + name
}

// mainPackages lists the directories under dir that hold a main package.
func mainPackages(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pkgMain := regexp.MustCompile(`(?m)^package main\b`)
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if pkgMain.Match(b) {
				names = append(names, e.Name())
				break
			}
		}
	}
	return names
}

func TestPodsAreLockedDown(t *testing.T) {
	m := loadManifests(t)
	for _, p := range m.pods() {
		s := p.spec
		where := p.owner
		name := p.labels[labelName]
		if name == "" {
			t.Errorf("%s: pod label %s missing", where, labelName)
		}
		if p.labels[labelPartOf] != "ipsbridge" {
			t.Errorf("%s: pod label %s=ipsbridge missing", where, labelPartOf)
		}
		switch p.labels[labelComponent] {
		case componentService, componentGateway, componentWorker, componentMigration:
		default:
			t.Errorf("%s: pod label %s=%q, want service, gateway, worker or migration", where, labelComponent, p.labels[labelComponent])
		}
		if s.HostNetwork || s.HostPID || s.HostIPC {
			t.Errorf("%s: uses the host's network, PID or IPC namespace", where)
		}
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false (no Kubernetes API access)", where)
		}
		if _, ok := m.serviceAccounts[s.ServiceAccountName]; !ok {
			t.Errorf("%s: serviceAccountName %q is not defined", where, s.ServiceAccountName)
		}
		if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks must be false (configuration comes from the ConfigMap only)", where)
		}
		psc := s.SecurityContext
		if psc == nil {
			t.Errorf("%s: no pod securityContext", where)
			psc = &corev1.PodSecurityContext{}
		}
		if len(s.InitContainers) > 0 || len(s.EphemeralContainers) > 0 {
			t.Errorf("%s: init or ephemeral containers are not expected; add their checks", where)
		}
		if len(s.Containers) != 1 {
			t.Errorf("%s: %d containers, want 1", where, len(s.Containers))
		}
		for i := range s.Containers {
			c := &s.Containers[i]
			cw := fmt.Sprintf("%s container %s", where, c.Name)
			checkContainerSecurity(t, cw, psc, c.SecurityContext)
			checkResources(t, cw, c.Resources)
			checkImage(t, cw, name, c)
			checkEnv(t, cw, m, name, c.Env)
			if len(c.EnvFrom) > 0 {
				t.Errorf("%s: envFrom hides which settings a container gets; name each variable", cw)
			}
			if len(c.Command) > 0 {
				t.Errorf("%s: command overrides the image's entrypoint", cw)
			}
		}
	}
}

func checkContainerSecurity(t *testing.T, where string, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	// A container's setting wins over the pod's.
	runAsNonRoot := psc.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	if runAsNonRoot == nil || !*runAsNonRoot {
		t.Errorf("%s: runAsNonRoot must be true", where)
	}
	for _, uid := range []*int64{psc.RunAsUser, sc.RunAsUser, psc.RunAsGroup, sc.RunAsGroup} {
		if uid != nil && *uid == 0 {
			t.Errorf("%s: runs as user or group 0", where)
		}
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: capabilities must drop ALL", where)
	}
	if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
	}
	seccomp := psc.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", where)
	}
}

func checkResources(t *testing.T, where string, r corev1.ResourceRequirements) {
	t.Helper()
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[res]
		lim, okLim := r.Limits[res]
		if !okReq || req.IsZero() {
			t.Errorf("%s: no %s request", where, res)
		}
		if !okLim || lim.IsZero() {
			t.Errorf("%s: no %s limit", where, res)
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s is above its limit %s", where, res, req.String(), lim.String())
		}
	}
}

// imageRef is registry.example.org/ipsbridge/NAME:TAG with a release tag.
var imageRef = regexp.MustCompile(`^` + regexp.QuoteMeta(imageRepo) + `([a-z0-9-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$`)

func checkImage(t *testing.T, where, name string, c *corev1.Container) {
	t.Helper()
	g := imageRef.FindStringSubmatch(c.Image)
	if g == nil {
		t.Errorf("%s: image %q, want %sNAME:TAG", where, c.Image, imageRepo)
		return
	}
	if g[1] != name {
		t.Errorf("%s: image %q is not the image of %s", where, c.Image, name)
	}
	if g[2] == "latest" {
		t.Errorf("%s: image tag latest; use a release tag", where)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: imagePullPolicy %q, want IfNotPresent (tags are immutable releases)", where, c.ImagePullPolicy)
	}
}

func checkEnv(t *testing.T, where string, m *manifests, name string, env []corev1.EnvVar) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range env {
		if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
			t.Errorf("%s: env %q: %s", where, e.Name, strings.Join(errs, "; "))
		}
		if seen[e.Name] {
			t.Errorf("%s: env %s set twice", where, e.Name)
		}
		seen[e.Name] = true
		if e.ValueFrom == nil {
			t.Errorf("%s: env %s is a literal; configuration comes from the ConfigMap or the Secret", where, e.Name)
			continue
		}
		switch {
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			if !ok {
				t.Errorf("%s: env %s: no ConfigMap %s", where, e.Name, ref.Name)
			} else if _, ok := cm.Data[ref.Key]; !ok {
				t.Errorf("%s: env %s: ConfigMap %s has no key %s", where, e.Name, ref.Name, ref.Key)
			}
			if e.Name == "DATABASE_URL" {
				t.Errorf("%s: DATABASE_URL holds a password; take it from the Secret %s", where, databaseSecret)
			}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			switch {
			case e.Name == "IPSB_DATABASE_RUNTIME_URL" && ref.Name == databaseSecret && ref.Key == name:
			case e.Name == "DATABASE_URL" && ref.Name == ownerSecret && ref.Key == "owner":
			case e.Name == "IPSB_WEBHOOK_SEALING_KEYS" && ref.Name == sealingSecret && ref.Key == "keys" &&
				(name == "events" || name == "dispatcher"):
			default:
				t.Errorf("%s: env %s from Secret %s key %s; want IPSB_DATABASE_RUNTIME_URL from %s key %s or DATABASE_URL from %s key owner",
					where, e.Name, ref.Name, ref.Key, databaseSecret, name, ownerSecret)
			}
		default:
			t.Errorf("%s: env %s: only ConfigMap and Secret references are expected", where, e.Name)
		}
	}
	// The migration role owns the schemas; a serving container has only its
	// runtime role, which owns nothing (issue 14).
	migration := strings.Contains(where, "Job")
	if name != componentGateway && !seen["IPSB_DATABASE_RUNTIME_URL"] {
		t.Errorf("%s: no IPSB_DATABASE_RUNTIME_URL", where)
	}
	if migration != seen["DATABASE_URL"] {
		t.Errorf("%s: DATABASE_URL (the owner role) set: %v; want it in migration Jobs only", where, seen["DATABASE_URL"])
	}
	if name == componentGateway && (seen["DATABASE_URL"] || seen["IPSB_DATABASE_RUNTIME_URL"]) {
		t.Errorf("%s: the gateway has no database", where)
	}
	if !seen["IPSB_LOG_LEVEL"] {
		t.Errorf("%s: IPSB_LOG_LEVEL is not set", where)
	}
	// A worker (and its migrate Job) verifies no tokens.
	if d, ok := m.deployments[name]; ok && d.Spec.Template.Labels[labelComponent] == componentWorker {
		return
	}
	for _, v := range []string{"IPSB_OIDC_ISSUER", "IPSB_OIDC_AUDIENCE"} {
		if !seen[v] {
			t.Errorf("%s: %s is not set", where, v)
		}
	}
	if !seen["IPSB_OIDC_JWKS_URL"] && !seen["IPSB_OIDC_JWKS_FILE"] {
		t.Errorf("%s: neither IPSB_OIDC_JWKS_URL nor IPSB_OIDC_JWKS_FILE is set", where)
	}
}

func TestDeploymentsServicesAndProbes(t *testing.T) {
	m := loadManifests(t)
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		where := "Deployment/" + name
		tpl := d.Spec.Template.Labels
		for _, l := range []string{labelName, labelComponent, labelPartOf} {
			if d.Labels[l] == "" || d.Labels[l] != tpl[l] {
				t.Errorf("%s: label %s is %q on the Deployment and %q on its pods", where, l, d.Labels[l], tpl[l])
			}
		}
		if tpl[labelName] != name {
			t.Errorf("%s: pods labelled %s=%q", where, labelName, tpl[labelName])
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(tpl)) {
			t.Errorf("%s: selector %v does not select its own pods (%v)", where, d.Spec.Selector, err)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("%s: fewer than 2 replicas", where)
		}
		if len(d.Spec.Template.Spec.Containers) == 0 {
			continue
		}
		c := &d.Spec.Template.Spec.Containers[0]
		if c.Name != name {
			t.Errorf("%s: container named %q, want %q", where, c.Name, name)
		}
		checkTopologySpread(t, where, d)
		if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil {
			t.Errorf("%s: terminationGracePeriodSeconds is not set; say how long draining may take", where)
		}
		switch tpl[labelComponent] {
		case componentService:
			checkGRPCProbes(t, where, c)
			checkMigrateJob(t, m, d)
			checkPDB(t, m, d)
			checkService(t, m, d)
		case componentGateway:
			checkHTTPProbes(t, where, c, "/readyz")
			checkPDB(t, m, d)
			checkService(t, m, d)
		case componentWorker:
			checkHTTPProbes(t, where, c, "/healthz")
			checkMigrateJob(t, m, d)
			checkPDB(t, m, d)
			checkNoService(t, m, d)
		default:
			t.Errorf("%s: component %q", where, tpl[labelComponent])
		}
		checkListenAddrs(t, where, m, c)
	}
	for _, name := range sortedKeys(m.pdbs) {
		p := m.pdbs[name]
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Errorf("PodDisruptionBudget/%s: selector %v (%v)", name, p.Spec.Selector, err)
			continue
		}
		d, ok := m.deployments[name]
		if !ok || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PodDisruptionBudget/%s selects no Deployment of the same name", name)
		}
	}
	// The gateway reaches each service at the Service's name and port.
	cm := m.configMaps["ipsbridge-config"]
	if cm == nil {
		t.Fatal("no ConfigMap ipsbridge-config")
	}
	// Every service is known to the gateway, as IPSB_NAME_ADDR in the
	// ConfigMap and in the gateway's environment.
	gwEnv := map[string]bool{}
	if gw, ok := m.deployments[componentGateway]; ok && len(gw.Spec.Template.Spec.Containers) > 0 {
		for _, e := range gw.Spec.Template.Spec.Containers[0].Env {
			gwEnv[e.Name] = true
		}
	}
	for _, svc := range sortedKeys(m.deployments) {
		if m.deployments[svc].Spec.Template.Labels[labelComponent] != componentService {
			continue
		}
		key := "IPSB_" + strings.ToUpper(svc) + "_ADDR"
		addr, ok := cm.Data[key]
		if !ok || addr == "" {
			t.Errorf("ConfigMap: no %s for Deployment/%s", key, svc)
			continue
		}
		host, port, ok := strings.Cut(addr, ":")
		s, found := m.services[host]
		if !ok || !found || !servicePort(s, port) {
			t.Errorf("ConfigMap %s=%q is not a Service name and port", key, addr)
		}
		if !gwEnv[key] {
			t.Errorf("Deployment/gateway: %s is not in its env", key)
		}
	}
}

// checkTopologySpread: a Deployment's replicas are spread over nodes.
func checkTopologySpread(t *testing.T, where string, d *appsv1.Deployment) {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if c.TopologyKey != "kubernetes.io/hostname" || c.LabelSelector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return
		}
	}
	t.Errorf("%s: no topologySpreadConstraint over kubernetes.io/hostname selecting its own pods", where)
}

// checkNoService: nothing routes traffic to a worker.
func checkNoService(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	for _, name := range sortedKeys(m.services) {
		s := m.services[name]
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Service/%s selects Deployment/%s's pods; a worker serves nothing", name, d.Name)
		}
	}
}

func servicePort(s *corev1.Service, port string) bool {
	for _, p := range s.Spec.Ports {
		if strconv.Itoa(int(p.Port)) == port {
			return true
		}
	}
	return false
}

func containerPort(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func checkGRPCProbes(t *testing.T, where string, c *corev1.Container) {
	t.Helper()
	port, ok := containerPort(c, "grpc")
	if !ok {
		t.Errorf("%s: no container port named grpc", where)
	}
	for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.GRPC == nil {
			t.Errorf("%s: no gRPC %s probe", where, kind)
			continue
		}
		if p.GRPC.Port != port {
			t.Errorf("%s: %s probe on port %d, the gRPC port is %d", where, kind, p.GRPC.Port, port)
		}
		if p.GRPC.Service != nil && *p.GRPC.Service != "" {
			t.Errorf("%s: %s probe asks for service %q; the server's overall health is wanted", where, kind, *p.GRPC.Service)
		}
	}
}

// checkHTTPProbes: start-up and liveness on /healthz, readiness on
// readyPath, each on a named container port.
func checkHTTPProbes(t *testing.T, where string, c *corev1.Container, readyPath string) {
	t.Helper()
	want := map[string]*struct {
		probe *corev1.Probe
		path  string
	}{
		"startup":   {c.StartupProbe, "/healthz"},
		"readiness": {c.ReadinessProbe, readyPath},
		"liveness":  {c.LivenessProbe, "/healthz"},
	}
	for kind, w := range want {
		p := w.probe
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", where, kind)
			continue
		}
		if p.HTTPGet.Path != w.path {
			t.Errorf("%s: %s probe path %q, want %q", where, kind, p.HTTPGet.Path, w.path)
		}
		if _, ok := containerPort(c, p.HTTPGet.Port.String()); !ok {
			t.Errorf("%s: %s probe port %q is not a named container port", where, kind, p.HTTPGet.Port.String())
		}
	}
}

// checkListenAddrs: a container that listens on IPSB_*_ADDR from the
// ConfigMap declares that port, and listens on the pod's address (a probe
// cannot reach loopback).
func checkListenAddrs(t *testing.T, where string, m *manifests, c *corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if !strings.HasSuffix(e.Name, "_GRPC_ADDR") && !strings.HasSuffix(e.Name, "_HTTP_ADDR") &&
			!strings.HasSuffix(e.Name, "_HEALTH_ADDR") {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.ConfigMapKeyRef
		addr := m.configMaps[ref.Name].Data[ref.Key]
		host, port, _ := strings.Cut(addr, ":")
		if host != "" && host != "0.0.0.0" && host != "[::]" {
			t.Errorf("%s: %s=%q listens on one address only; use :PORT", where, e.Name, addr)
		}
		found := false
		for _, p := range c.Ports {
			if strconv.Itoa(int(p.ContainerPort)) == port {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: listens on %s=%q but declares no such container port", where, e.Name, addr)
		}
	}
}

func checkService(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	s, ok := m.services[d.Name]
	if !ok {
		t.Errorf("Deployment/%s: no Service of the same name", d.Name)
		return
	}
	where := "Service/" + s.Name
	if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("%s: type %s; expose the gateway through the cluster's ingress instead", where, s.Spec.Type)
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	if len(s.Spec.Selector) == 0 || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("%s: selector %v does not select the Deployment's pods", where, s.Spec.Selector)
	}
	for _, j := range m.jobs {
		if sel.Matches(labels.Set(j.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v also selects Job %s's pods", where, s.Spec.Selector, j.Name)
		}
	}
	c := &d.Spec.Template.Spec.Containers[0]
	for _, p := range s.Spec.Ports {
		cp, ok := containerPort(c, p.TargetPort.String())
		if !ok {
			t.Errorf("%s: port %s targets %q, not a named port of the container", where, p.Name, p.TargetPort.String())
		} else if cp != p.Port {
			t.Errorf("%s: port %s is %d outside and %d inside; keep them equal", where, p.Name, p.Port, cp)
		}
	}
}

func checkMigrateJob(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	j, ok := m.jobs[d.Name+"-migrate"]
	if !ok {
		t.Errorf("Deployment/%s: no Job %s-migrate", d.Name, d.Name)
		return
	}
	where := "Job/" + j.Name
	if j.Spec.Template.Labels[labelName] != d.Name || j.Spec.Template.Labels[labelComponent] != componentMigration {
		t.Errorf("%s: pods labelled %v", where, j.Spec.Template.Labels)
	}
	if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		t.Errorf("%s: restartPolicy %q", where, rp)
	}
	if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("%s: backoffLimit and activeDeadlineSeconds bound its retries", where)
	}
	if len(j.Spec.Template.Spec.Containers) == 0 {
		return
	}
	jc := &j.Spec.Template.Spec.Containers[0]
	dc := &d.Spec.Template.Spec.Containers[0]
	if jc.Image != dc.Image {
		t.Errorf("%s: image %s, the Deployment runs %s", where, jc.Image, dc.Image)
	}
	if !slices.Equal(jc.Args, []string{"migrate"}) {
		t.Errorf("%s: args %v, want [migrate]", where, jc.Args)
	}
	// The Job has the owner role besides everything the Deployment has.
	jobEnv := slices.DeleteFunc(slices.Clone(jc.Env), func(e corev1.EnvVar) bool { return e.Name == "DATABASE_URL" })
	if !jsonEqual(jobEnv, dc.Env) {
		t.Errorf("%s: env (but DATABASE_URL) differs from Deployment/%s's; the migrate subcommand reads the same configuration", where, d.Name)
	}
	if jc.StartupProbe != nil || jc.ReadinessProbe != nil || jc.LivenessProbe != nil {
		t.Errorf("%s: a Job has no probes", where)
	}
}

func checkPDB(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	p, ok := m.pdbs[d.Name]
	if !ok {
		t.Errorf("Deployment/%s: no PodDisruptionBudget", d.Name)
		return
	}
	if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
		t.Errorf("PodDisruptionBudget/%s: neither minAvailable nor maxUnavailable", p.Name)
	}
	if p.Spec.MinAvailable != nil && d.Spec.Replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("PodDisruptionBudget/%s: minAvailable %s blocks every eviction with %d replicas", p.Name, p.Spec.MinAvailable.String(), *d.Spec.Replicas)
	}
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestNetworkPolicies: all traffic is denied unless allowed; services accept
// connections from the gateway only (and the clients service from the
// employment, benefits and events services); nothing connects to a worker;
// only services, workers and their migrations reach PostgreSQL.
func TestNetworkPolicies(t *testing.T) {
	m := loadManifests(t)
	deny, ok := m.netpols["default-deny-all"]
	if !ok {
		t.Fatal("no NetworkPolicy default-deny-all")
	}
	if len(deny.Spec.PodSelector.MatchLabels)+len(deny.Spec.PodSelector.MatchExpressions) != 0 ||
		!slices.Contains(deny.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) ||
		!slices.Contains(deny.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) ||
		len(deny.Spec.Ingress)+len(deny.Spec.Egress) != 0 {
		t.Errorf("default-deny-all must select every pod and deny ingress and egress")
	}

	pods := m.pods()
	selects := func(where string, sel *metav1.LabelSelector, l map[string]string) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Errorf("%s: selector: %v", where, err)
			return false
		}
		return s.Matches(labels.Set(l))
	}
	// mayConnect says whether a pod with labels from may open connections
	// to a pod with labels to.
	mayConnect := func(from, to map[string]string) bool {
		switch to[labelComponent] {
		case componentGateway:
			return true
		case componentService:
			if from[labelComponent] == componentGateway {
				return true
			}
			if from[labelComponent] == componentService && slices.Contains(serviceCallees[from[labelName]], to[labelName]) {
				return true
			}
			return to[labelName] == "clients" && from[labelComponent] == componentService &&
				slices.Contains(clientsCallers, from[labelName])
		}
		return false
	}

	for _, name := range sortedKeys(m.netpols) {
		np := m.netpols[name]
		where := "NetworkPolicy/" + name
		if len(np.Spec.PolicyTypes) == 0 {
			t.Errorf("%s: policyTypes must be explicit", where)
		}
		for _, p := range pods {
			if !selects(where, &np.Spec.PodSelector, p.labels) {
				continue
			}
			for i, rule := range np.Spec.Ingress {
				rw := fmt.Sprintf("%s ingress rule %d for %s", where, i+1, p.owner)
				if len(rule.Ports) == 0 {
					t.Errorf("%s: allows every port", rw)
				}
				if len(rule.From) == 0 {
					if p.labels[labelComponent] != componentGateway {
						t.Errorf("%s: allows every source", rw)
					}
					continue
				}
				for _, peer := range rule.From {
					if peer.IPBlock != nil || peer.NamespaceSelector != nil || peer.PodSelector == nil {
						t.Errorf("%s: sources outside the namespace", rw)
						continue
					}
					for _, src := range pods {
						if selects(rw, peer.PodSelector, src.labels) && !mayConnect(src.labels, p.labels) {
							t.Errorf("%s: lets %s connect", rw, src.owner)
						}
					}
				}
			}
			for i, rule := range np.Spec.Egress {
				rw := fmt.Sprintf("%s egress rule %d for %s", where, i+1, p.owner)
				if len(rule.Ports) == 0 {
					t.Errorf("%s: allows every port", rw)
				}
				for _, port := range rule.Ports {
					if port.Port != nil && port.Port.IntValue() == 5432 && !slices.Contains(
						[]string{componentService, componentWorker, componentMigration}, p.labels[labelComponent]) {
						t.Errorf("%s: only the services, workers and their migrations reach PostgreSQL", rw)
					}
				}
				for _, peer := range rule.To {
					if peer.PodSelector == nil || peer.NamespaceSelector != nil {
						continue // outside the namespace: PostgreSQL, DNS, the OIDC provider
					}
					for _, dst := range pods {
						if selects(rw, peer.PodSelector, dst.labels) && !mayConnect(p.labels, dst.labels) {
							t.Errorf("%s: lets it connect to %s", rw, dst.owner)
						}
					}
				}
			}
		}
	}

	// And what must work does: the gateway reaches every service, the
	// clients service's callers reach it, every service, worker and
	// migration reaches PostgreSQL.
	for _, p := range pods {
		var wantPort int
		switch p.labels[labelComponent] {
		case componentService, componentWorker, componentMigration:
			wantPort = 5432
		default:
			continue
		}
		if !egressAllowed(m, p.labels, wantPort) {
			t.Errorf("%s: no NetworkPolicy lets it reach PostgreSQL on %d", p.owner, wantPort)
		}
	}
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		if d.Spec.Template.Labels[labelComponent] != componentService {
			continue
		}
		port, _ := containerPort(&d.Spec.Template.Spec.Containers[0], "grpc")
		gw := m.deployments[componentGateway].Spec.Template.Labels
		if !egressAllowed(m, gw, int(port)) || !ingressAllowed(m, d.Spec.Template.Labels, gw, int(port)) {
			t.Errorf("the gateway cannot reach Deployment/%s on %d", name, port)
		}
	}
	if cl, ok := m.deployments["clients"]; ok {
		port, _ := containerPort(&cl.Spec.Template.Spec.Containers[0], "grpc")
		for _, name := range clientsCallers {
			d, ok := m.deployments[name]
			if !ok {
				t.Errorf("no Deployment %s", name)
				continue
			}
			from := d.Spec.Template.Labels
			if !egressAllowed(m, from, int(port)) || !ingressAllowed(m, cl.Spec.Template.Labels, from, int(port)) {
				t.Errorf("Deployment/%s cannot reach the clients service on %d", name, port)
			}
		}
	}
}

// clientsCallers are the services that call the clients service.
var clientsCallers = []string{"employment", "benefits", "events"}

// serviceCallees are the services a service calls besides clients: the
// funding service (work histories, a client's benefits) and the fidelity
// service (team figures; its own policies in k8s/fidelity.yaml).
var serviceCallees = map[string][]string{
	"funding":  {"employment", "benefits"},
	"fidelity": {"clients", "employment", "benefits"},
}

// internalRanges are what HTTPS out must never reach: the private ranges
// (pods, Services, nodes), carrier-grade NAT, link-local (the cloud's
// metadata endpoint), loopback, and their IPv6 counterparts.
var internalRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("::1/128"),
}

// ipBlockReaches returns the internal ranges an ipBlock lets through: those
// its CIDR overlaps and no "except" entry covers whole.
func ipBlockReaches(b *networkingv1.IPBlock) ([]netip.Prefix, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, err
	}
	var except []netip.Prefix
	for _, e := range b.Except {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, err
		}
		except = append(except, p)
	}
	var out []netip.Prefix
	for _, r := range internalRanges {
		if !cidr.Overlaps(r) {
			continue
		}
		covered := slices.ContainsFunc(except, func(e netip.Prefix) bool {
			return e.Bits() <= r.Bits() && e.Contains(r.Addr())
		})
		if !covered {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestIPBlockReaches(t *testing.T) {
	// The guard for TestEgressToTheInternet: a missing except is found.
	all := []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"}
	for i, drop := range all {
		except := slices.Delete(slices.Clone(all), i, i+1)
		got, err := ipBlockReaches(&networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: except})
		if err != nil || len(got) != 1 || got[0].String() != drop {
			t.Errorf("0.0.0.0/0 except all but %s: reaches %v (%v)", drop, got, err)
		}
	}
	if got, _ := ipBlockReaches(&networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: slices.Concat(all[1:], []string{"10.0.0.0/9"})}); len(got) != 1 {
		t.Errorf("an except of half of 10.0.0.0/8 counted as excluding it: %v", got)
	}
	if got, _ := ipBlockReaches(&networkingv1.IPBlock{CIDR: "203.0.113.0/24"}); len(got) != 0 {
		t.Errorf("a public /24 reaches %v", got)
	}
	if got, _ := ipBlockReaches(&networkingv1.IPBlock{CIDR: "::/0"}); len(got) != 3 {
		t.Errorf("::/0 reaches %v, want the three IPv6 ranges", got)
	}
}

// TestEgressToTheInternet: HTTPS out (the OpenID Connect provider's keys,
// partners' webhooks) goes to the internet only, never to the cluster's own
// addresses or the metadata endpoint; the events service and the
// dispatcher may reach partners; the dispatcher reaches nothing but
// PostgreSQL, DNS and the internet on 443, and nothing reaches it.
func TestEgressToTheInternet(t *testing.T) {
	m := loadManifests(t)
	for _, name := range sortedKeys(m.netpols) {
		np := m.netpols[name]
		for i, rule := range np.Spec.Egress {
			for _, peer := range rule.To {
				if peer.IPBlock == nil {
					continue
				}
				where := fmt.Sprintf("NetworkPolicy/%s egress rule %d ipBlock %s", name, i+1, peer.IPBlock.CIDR)
				reach, err := ipBlockReaches(peer.IPBlock)
				if err != nil {
					t.Errorf("%s: %v", where, err)
				} else if len(reach) > 0 {
					t.Errorf("%s: reaches %v; add them to except", where, reach)
				}
			}
		}
	}

	for _, name := range []string{"events", "dispatcher"} {
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		if !internetAllowed(m, d.Spec.Template.Labels, 443) {
			t.Errorf("Deployment/%s: no NetworkPolicy lets it reach partners on 443", name)
		}
	}

	d, ok := m.deployments["dispatcher"]
	if !ok {
		return
	}
	pl := d.Spec.Template.Labels
	if pl[labelComponent] != componentWorker {
		t.Errorf("Deployment/dispatcher: component %q, want %s", pl[labelComponent], componentWorker)
	}
	for _, name := range sortedKeys(m.netpols) {
		np := m.netpols[name]
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(pl)) {
			continue
		}
		where := "NetworkPolicy/" + name + " for the dispatcher"
		if len(np.Spec.Ingress) > 0 {
			t.Errorf("%s: allows ingress; the dispatcher receives nothing but probes", where)
		}
		for i, rule := range np.Spec.Egress {
			rw := fmt.Sprintf("%s egress rule %d", where, i+1)
			var ports []int
			for _, p := range rule.Ports {
				if p.Port == nil {
					t.Errorf("%s: a rule without a port number", rw)
					continue
				}
				ports = append(ports, p.Port.IntValue())
			}
			if len(rule.To) == 0 {
				t.Errorf("%s: allows every destination", rw)
			}
			for _, peer := range rule.To {
				switch {
				case peer.IPBlock != nil:
					if !onlyPorts(ports, 443) {
						t.Errorf("%s: ipBlock %s on ports %v; the internet on 443 only", rw, peer.IPBlock.CIDR, ports)
					}
				case peer.NamespaceSelector != nil && peer.PodSelector != nil &&
					peer.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					if !onlyPorts(ports, 53) {
						t.Errorf("%s: DNS on ports %v", rw, ports)
					}
				case peer.NamespaceSelector != nil && peer.PodSelector != nil &&
					peer.PodSelector.MatchLabels[labelName] == "postgresql":
					if !onlyPorts(ports, 5432) {
						t.Errorf("%s: PostgreSQL on ports %v", rw, ports)
					}
				default:
					t.Errorf("%s: a destination other than PostgreSQL, DNS or the internet: %+v", rw, peer)
				}
			}
		}
	}
}

// TestDispatcherSettings: the dispatcher and the events service apply the
// same egress policy (an endpoint the one verified, the other may reach),
// and a stopping dispatcher has time to finish the batch it holds.
func TestDispatcherSettings(t *testing.T) {
	m := loadManifests(t)
	d, ok := m.deployments["dispatcher"]
	ev, ok2 := m.deployments["events"]
	if !ok || !ok2 {
		t.Fatal("no Deployment dispatcher or events")
	}
	refs := func(d *appsv1.Deployment) map[string]string {
		out := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				out[e.Name] = e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
			}
		}
		return out
	}
	de, ee := refs(d), refs(ev)
	for _, v := range []string{"IPSB_EGRESS_ALLOW", "IPSB_EGRESS_DENY", "IPSB_EGRESS_ALLOW_HTTP"} {
		if de[v] == "" || de[v] != ee[v] {
			t.Errorf("%s: the dispatcher reads %q, the events service %q; both need the same", v, de[v], ee[v])
		}
	}
	cm := m.configMaps["ipsbridge-config"]
	if cm == nil {
		t.Fatal("no ConfigMap ipsbridge-config")
	}
	if v := cm.Data["IPSB_EGRESS_ALLOW_HTTP"]; v != "false" {
		t.Errorf("ConfigMap IPSB_EGRESS_ALLOW_HTTP=%q; plain http is for development only", v)
	}
	// The lease bounds how long a stopping dispatcher works on; the
	// defaults are the dispatcher's own.
	setting := func(name, def string) time.Duration {
		v := def
		if ref, ok := de[name]; ok {
			v = cm.Data[strings.TrimPrefix(ref, "ipsbridge-config/")]
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return dur
	}
	timeout, lease := setting("IPSB_DISPATCHER_TIMEOUT", "10s"), setting("IPSB_DISPATCHER_LEASE", "45s")
	if lease <= timeout {
		t.Errorf("IPSB_DISPATCHER_LEASE %s must exceed IPSB_DISPATCHER_TIMEOUT %s", lease, timeout)
	}
	var grace time.Duration
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= lease {
		t.Errorf("Deployment/dispatcher: terminationGracePeriodSeconds %s must exceed IPSB_DISPATCHER_LEASE %s", grace, lease)
	}
}

func onlyPorts(ports []int, want int) bool {
	if len(ports) == 0 {
		return false
	}
	for _, p := range ports {
		if p != want {
			return false
		}
	}
	return true
}

// internetAllowed: some NetworkPolicy lets pods with labels from reach a
// public address (documentation range 203.0.113.0/24) on port.
func internetAllowed(m *manifests, from map[string]string, port int) bool {
	public := netip.MustParsePrefix("203.0.113.0/24")
	for _, np := range m.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(from)) {
			continue
		}
		for _, rule := range np.Spec.Egress {
			portOK := false
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == port {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			for _, peer := range rule.To {
				if peer.IPBlock == nil {
					continue
				}
				cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
				if err != nil || !cidr.Contains(public.Addr()) {
					continue
				}
				excluded := slices.ContainsFunc(peer.IPBlock.Except, func(e string) bool {
					p, err := netip.ParsePrefix(e)
					return err == nil && p.Overlaps(public)
				})
				if !excluded {
					return true
				}
			}
		}
	}
	return false
}

func egressAllowed(m *manifests, from map[string]string, port int) bool {
	for _, np := range m.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(from)) {
			continue
		}
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == port {
					return true
				}
			}
		}
	}
	return false
}

func ingressAllowed(m *manifests, to, from map[string]string, port int) bool {
	for _, np := range m.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(to)) {
			continue
		}
		for _, rule := range np.Spec.Ingress {
			portOK := false
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == port {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			for _, peer := range rule.From {
				if peer.PodSelector == nil {
					continue
				}
				s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err == nil && s.Matches(labels.Set(from)) {
					return true
				}
			}
		}
	}
	return false
}

// dockerStage is one FROM … stage of the Dockerfile.
type dockerStage struct {
	from         string
	alias        string
	instructions [][2]string // instruction (upper case), arguments
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, continuation lines joined. Enough for our checks,
// not a full parser (no heredocs, no escape directive).
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		instr, args, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		args = strings.TrimSpace(args)
		if instr == "FROM" {
			f := strings.Fields(args)
			var st dockerStage
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case st.from == "":
					st.from = f[i]
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.alias = f[i+1]
					i++
				}
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if instr != "ARG" {
				t.Errorf("%s: %s before the first FROM", path, instr)
			}
			return
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, [2]string{instr, args})
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments, also between continuation lines
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	var buildCmd string
	hasMain := false
	for _, in := range build.instructions {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			buildCmd = in[1]
		}
		if in[0] == "ARG" && strings.HasPrefix(in[1], "MAIN") {
			hasMain = true
		}
	}
	if !hasMain {
		t.Error("build stage: no ARG MAIN selecting the binary")
	}
	if !strings.Contains(buildCmd, "CGO_ENABLED=0") || !strings.Contains(buildCmd, `"$MAIN"`) {
		t.Errorf("build stage: want a static build of $MAIN (CGO_ENABLED=0), got %q", buildCmd)
	}

	// The final stage: a distroless (or empty) base, so no shell, and a
	// non-root user.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/") && final.from != "scratch" {
		t.Errorf("final stage FROM %s, want a distroless image or scratch", final.from)
	}
	if strings.Contains(final.from, ":debug") {
		t.Errorf("final stage FROM %s: the debug images have a shell", final.from)
	}
	var user, entrypoint string
	for _, in := range final.instructions {
		switch in[0] {
		case "RUN":
			t.Errorf("final stage: RUN %s; the final image has no shell", in[1])
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		case "COPY":
			if !strings.Contains(in[1], "--from="+build.alias) {
				t.Errorf("final stage: COPY %s; copy only the built binary", in[1])
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	switch n, err := strconv.Atoi(uid); {
	case user == "":
		t.Error("final stage: no USER; the image would run as root")
	case err == nil && n == 0, uid == "root":
		t.Errorf("final stage: USER %s is root", user)
	case err != nil && uid != "nonroot":
		t.Errorf("final stage: USER %s; use a numeric uid so runAsNonRoot can verify it", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 {
		t.Errorf("final stage: ENTRYPOINT %s, want exec form [\"/binary\"] (there is no shell)", entrypoint)
	}

	// Pods run as the image's user.
	m := loadManifests(t)
	if n, err := strconv.ParseInt(uid, 10, 64); err == nil {
		for _, p := range m.pods() {
			if sc := p.spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != n {
				t.Errorf("%s: runAsUser should be the image's user %d", p.owner, n)
			}
		}
	}
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
