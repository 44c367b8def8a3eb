package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// runBaseline is the limit the plugin is measured against: the least a
// client-go program can do to server-side apply the same objects, one
// tenant's five in order per work item, with the same number of workers
// and no checks, printing, or permission review.
func runBaseline(path, kubeconfig string, concurrency int) error {
	data, err := os.ReadFile(path)
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
	config.QPS, config.Burst = float32(25*concurrency), 50*concurrency
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
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
	for i := 0; i+5 <= len(objs); i += 5 {
		tenant := objs[i : i+5]
		g.Go(func() error {
			for _, o := range tenant {
				if err := apply(ctx, client, mapper, o); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func apply(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) error {
	m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	if err != nil {
		return err
	}
	var r dynamic.ResourceInterface = client.Resource(m.Resource)
	if o.GetNamespace() != "" {
		r = client.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	if _, err := r.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "baseline"}); err != nil {
		return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
	}
	return nil
}
