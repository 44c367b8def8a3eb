package plugin

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultChunkSize is how many items one page of a list holds, as
// kubectl's --chunk-size.
const defaultChunkSize = 500

// eachPage is the plugin's one pager: it lists in chunks of opts.Limit,
// following the server's continue tokens, so that ten thousand tenants
// never arrive, or stay, in one piece. list fetches and visits one page
// and returns its continue token.
func eachPage(ctx context.Context, opts metav1.ListOptions, list func(context.Context, metav1.ListOptions) (string, error)) error {
	for {
		next, err := list(ctx, opts)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}

// eachNamespace pages through namespaces reading only their metadata, as
// protobuf: labels and the deletion time are all most commands need.
func (c *clients) eachNamespace(ctx context.Context, opts metav1.ListOptions, visit func(*metav1.PartialObjectMetadata)) error {
	return eachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		page, err := c.metadata.Resource(namespaceGVR).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		return page.Continue, nil
	})
}
