// Command ssabaseline is the limit `kubectl-tenant add -f` is measured
// against: the least a client-go program can do to server-side apply the same
// objects. It reads the YAML stream of `kubectl-tenant add -f FILE
// --dry-run=client -o yaml` (each namespace's objects in apply order, its
// Namespace first), and applies them with -concurrency workers, one
// namespace's objects in order per work item, as add applies them, with
// QPS/Burst raised as the plugin raises them for -f. No permission review,
// no existence checks, no printing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

func main() {
	file := flag.String("f", "", "YAML stream of objects, each namespace's in apply order (- for stdin)")
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
	concurrency := flag.Int("concurrency", 8, "workers")
	qps := flag.Float64("qps", 200, "client QPS (the plugin uses 25*concurrency for -f)")
	burst := flag.Int("burst", 400, "client burst (the plugin uses 2*QPS)")
	perItem := flag.Int("per-item", 0, "objects per work item; 0: one namespace's objects (a team tenant has more than five in each)")
	flag.Parse()
	if err := run(*file, *kubeconfig, *concurrency, float32(*qps), *burst, *perItem); err != nil {
		fmt.Fprintln(os.Stderr, "ssabaseline:", err)
		os.Exit(1)
	}
}

func run(path, kubeconfig string, concurrency int, qps float32, burst, perItem int) error {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	objs, err := render.DecodeYAML(data)
	if err != nil {
		return err
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	config.QPS, config.Burst = qps, burst
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	// A static REST mapper from the objects themselves: no discovery.
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, o := range objs {
		scope := meta.RESTScopeNamespace
		if o.GetNamespace() == "" {
			scope = meta.RESTScopeRoot
		}
		mapper.Add(o.GroupVersionKind(), scope)
	}
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(concurrency)
	items := workItems(objs, perItem)
	for _, item := range items {
		g.Go(func() error {
			for _, o := range item {
				if err := apply(ctx, client, mapper, o); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Printf("applied %d objects in %d work items\n", len(objs), len(items))
	return nil
}

// workItems cuts the stream into work items: perItem objects each, or with
// perItem 0 one namespace's objects each, as add gives one namespace to a
// worker. An object's namespace is its metadata.namespace, or a Namespace's
// own name, so a Namespace starts its item.
func workItems(objs []*unstructured.Unstructured, perItem int) [][]*unstructured.Unstructured {
	var items [][]*unstructured.Unstructured
	if perItem > 0 {
		for i := 0; i < len(objs); i += perItem {
			items = append(items, objs[i:min(i+perItem, len(objs))])
		}
		return items
	}
	namespaceOf := func(o *unstructured.Unstructured) string {
		if o.GetNamespace() == "" && o.GetKind() == "Namespace" {
			return o.GetName()
		}
		return o.GetNamespace()
	}
	start := 0
	for i := 1; i <= len(objs); i++ {
		if i == len(objs) || namespaceOf(objs[i]) != namespaceOf(objs[start]) {
			items = append(items, objs[start:i])
			start = i
		}
	}
	return items
}

func apply(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var r dynamic.ResourceInterface = client.Resource(m.Resource)
	if o.GetNamespace() != "" {
		r = client.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	if _, err := r.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "ssabaseline"}); err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}
