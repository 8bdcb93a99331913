// Package deploy holds the production packaging of IPS Bridge: the
// Dockerfile that builds any of its binaries into a distroless image and the
// Kubernetes manifests under k8s/. It has no code of its own; its tests
// decode every manifest strictly into the Kubernetes API types and check the
// invariants every workload must keep (non-root, read-only root file system,
// no capabilities, probes, resources, labels and network policy).
package deploy
