// Command listprobe measures ways of reading every tenant Kustomization's
// Ready condition, as `kubectl-tenant list` needs it, against a cluster:
//
//	-mode unstructured  the dynamic client (what list does): full objects decoded to maps
//	-mode typed         the same JSON pages decoded into a struct with only the needed fields
//	-mode table         server-side Table (the CRD's Ready/Status printer columns), no objects
//
// -qps raises client-go's rate limit (default 5 QPS, burst 10: a 10,000 item
// list in chunks of 500 is 20 requests, the last 10 spaced 200 ms apart).
//
// It prints the wall time, the process CPU time and the number of items.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var gvr = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

func main() {
	mode := flag.String("mode", "unstructured", "unstructured, typed or table")
	chunk := flag.Int64("chunk-size", 500, "items per page")
	name := flag.String("name", "dummy", "Kustomization name (field selector)")
	qps := flag.Float64("qps", 0, "client QPS (0: client-go's default 5, burst 10, as the plugin's list uses)")
	flag.Parse()
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fail(err)
	}
	if *qps > 0 {
		config.QPS, config.Burst = float32(*qps), int(2**qps)
	}
	start := time.Now()
	var n int
	switch *mode {
	case "unstructured":
		n, err = viaUnstructured(config, *chunk, *name)
	case "typed":
		n, err = viaRaw(config, *chunk, *name, "application/json", decodeTyped)
	case "table":
		n, err = viaRaw(config, *chunk, *name, "application/json;as=Table;v=v1;g=meta.k8s.io", decodeTable)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// No peak RSS here: started by a Go program (vfork), the process inherits
	// its parent's high-water mark; measure it with /usr/bin/time -f %M.
	fmt.Printf("%s: %d items, %s wall, %s CPU\n", *mode, n, time.Since(start).Round(time.Millisecond), cpu.Round(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "listprobe:", err)
	os.Exit(1)
}

func viaUnstructured(config *rest.Config, chunk int64, name string) (int, error) {
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return 0, err
	}
	opts := metav1.ListOptions{FieldSelector: "metadata.name=" + name, Limit: chunk}
	n := 0
	for {
		page, err := client.Resource(gvr).List(context.Background(), opts)
		if err != nil {
			return n, err
		}
		for i := range page.Items {
			conds, _, _ := unstructured.NestedSlice(page.Items[i].Object, "status", "conditions")
			_ = conds
			n++
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return n, nil
		}
	}
}

// kustomizationList holds only what a list row needs; encoding/json skips
// the rest (managedFields, spec) without allocating it.
type kustomizationList struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Suspend bool `json:"suspend"`
		} `json:"spec"`
		Status struct {
			LastAppliedRevision string `json:"lastAppliedRevision"`
			Conditions          []struct {
				Type, Status, Message string
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

func decodeTyped(body []byte) (int, string, error) {
	var l kustomizationList
	if err := json.Unmarshal(body, &l); err != nil {
		return 0, "", err
	}
	return len(l.Items), l.Metadata.Continue, nil
}

func decodeTable(body []byte) (int, string, error) {
	var t metav1.Table
	if err := json.Unmarshal(body, &t); err != nil {
		return 0, "", err
	}
	return len(t.Rows), t.Continue, nil
}

func viaRaw(config *rest.Config, chunk int64, name, accept string, decode func([]byte) (int, string, error)) (int, error) {
	config = rest.CopyConfig(config)
	config.GroupVersion = &schema.GroupVersion{Group: gvr.Group, Version: gvr.Version}
	config.APIPath = "/apis"
	config.NegotiatedSerializer = nil
	client, err := rest.UnversionedRESTClientFor(withSerializer(config))
	if err != nil {
		return 0, err
	}
	n, cont := 0, ""
	for {
		req := client.Get().AbsPath("/apis", gvr.Group, gvr.Version, gvr.Resource).
			Param("fieldSelector", "metadata.name="+name).Param("limit", fmt.Sprint(chunk)).
			SetHeader("Accept", accept)
		if accept != "application/json" {
			req = req.Param("includeObject", "None")
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		body, err := req.DoRaw(context.Background())
		if err != nil {
			return n, err
		}
		k, next, err := decode(body)
		if err != nil {
			return n, err
		}
		n += k
		if cont = next; cont == "" {
			return n, nil
		}
	}
}

func withSerializer(config *rest.Config) *rest.Config {
	config.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return config
}
