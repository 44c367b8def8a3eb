package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// DefaultChunkSize is how many items one page of a list holds, as
// kubectl's --chunk-size.
const DefaultChunkSize = 500

// EachPage is the plugin's one pager: it lists in chunks of opts.Limit,
// following the server's continue tokens, so that ten thousand tenants
// never arrive, or stay, in one piece. list fetches and visits one page
// and returns its continue token.
func EachPage(ctx context.Context, opts metav1.ListOptions, list func(context.Context, metav1.ListOptions) (string, error)) error {
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

// EachNamespace pages through namespaces reading only their metadata, as
// protobuf: labels and the deletion time are all most commands need.
func (c *Clients) EachNamespace(ctx context.Context, opts metav1.ListOptions, visit func(*metav1.PartialObjectMetadata)) error {
	return EachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		page, err := c.Metadata.Resource(NamespaceGVR).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		return page.Continue, nil
	})
}

// ResourcePath is the list path of gvr, in namespace or in all of them.
func ResourcePath(gvr schema.GroupVersionResource, namespace string) string {
	prefix := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		prefix = "/api/" + gvr.Version
	}
	if namespace != "" {
		prefix += "/namespaces/" + namespace
	}
	return prefix + "/" + gvr.Resource
}

// EachItem pages through the list at path, decoding each item into a T
// that holds only the fields a command reads: decoding into unstructured
// maps (managedFields, whole specs) costs most of the CPU of a list of ten
// thousand, on the machine that may also run the API server. Each page is
// decoded as it arrives, item by item, so decoding overlaps the server's
// encoding and sending of the rest of the page, and no page is held whole.
// what names the items in errors.
func EachItem[T any](ctx context.Context, client rest.Interface, path string, opts metav1.ListOptions, what string, visit func(*T)) error {
	return EachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		body, err := listRequest(client, path, opts).Stream(ctx)
		if err != nil {
			return "", err
		}
		defer body.Close()
		next, err := decodePage(json.NewDecoder(body), func(item *T) error {
			visit(item)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("decoding a page of %s: %w", what, err)
		}
		return next, nil
	})
}

// listRequest asks for one page of the list at path.
func listRequest(client rest.Interface, path string, opts metav1.ListOptions) *rest.Request {
	request := client.Get().AbsPath(path)
	if opts.FieldSelector != "" {
		request = request.Param("fieldSelector", opts.FieldSelector)
	}
	if opts.LabelSelector != "" {
		request = request.Param("labelSelector", opts.LabelSelector)
	}
	if opts.Limit > 0 {
		request = request.Param("limit", strconv.FormatInt(opts.Limit, 10))
	}
	if opts.Continue != "" {
		request = request.Param("continue", opts.Continue)
	}
	return request
}

// decodePage decodes a list, {"items": [...], "metadata": {"continue":
// ...}, ...} in any order, visiting each item as soon as it is decoded,
// and returns the continue token, or the first error visit returns.
func decodePage[T any](dec *json.Decoder, visit func(*T) error) (string, error) {
	var next string
	if err := expectDelim(dec, '{'); err != nil {
		return "", err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", err
		}
		switch key {
		case "items":
			err = decodeItems(dec, visit)
		case "metadata":
			var metadata struct {
				Continue string `json:"continue"`
			}
			err = dec.Decode(&metadata)
			next = metadata.Continue
		default:
			var skipped json.RawMessage
			err = dec.Decode(&skipped)
		}
		if err != nil {
			return "", err
		}
	}
	return next, expectDelim(dec, '}')
}

// decodeItems decodes a JSON array (or null) item by item.
func decodeItems[T any](dec *json.Decoder, visit func(*T) error) error {
	token, err := dec.Token()
	if err != nil || token == nil {
		return err
	}
	if token != json.Delim('[') {
		return fmt.Errorf("items is %v, not a list", token)
	}
	for dec.More() {
		item := new(T)
		if err := dec.Decode(item); err != nil {
			return err
		}
		if err := visit(item); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, delim json.Delim) error {
	token, err := dec.Token()
	if err != nil {
		return err
	}
	if token != delim {
		return fmt.Errorf("found %v where %v was expected", token, delim)
	}
	return nil
}
