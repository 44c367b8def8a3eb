package tenant

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/rest"
)

// metadataList is a page of namespaces as the API server holds them:
// labels, managedFields, one being deleted, and a continue token.
func metadataList() *metav1.PartialObjectMetadataList {
	created := metav1.NewTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	list := &metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next-page"}}
	for i := range 3 {
		ns := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("ns-%d", i), UID: "uid", ResourceVersion: "7", CreationTimestamp: created,
			Labels: map[string]string{"tenant": fmt.Sprintf("t-%d", i)},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply,
				APIVersion: "v1", Time: &created, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:tenant":{}}}}`)}}},
		}}
		if i == 2 {
			ns.DeletionTimestamp = &created
		}
		list.Items = append(list.Items, ns)
	}
	return list
}

// encodeMetadataList is the API server's protobuf body of list.
func encodeMetadataList(t *testing.T, list *metav1.PartialObjectMetadataList) ([]byte, runtime.Serializer) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	serializer := protobuf.NewSerializer(scheme, scheme)
	list.TypeMeta = metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}
	var buf bytes.Buffer
	if err := serializer.Encode(list, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), serializer
}

// TestDecodeProtobufMetadataAsTheSerializerDoes: reading the protobuf body
// field by field gives the items and continue token that apimachinery's
// protobuf serializer decodes from the same bytes, and a body cut off
// anywhere inside the list is an error, not a shorter list.
func TestDecodeProtobufMetadataAsTheSerializerDoes(t *testing.T) {
	body, serializer := encodeMetadataList(t, metadataList())
	decoded, _, err := serializer.Decode(body, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := decoded.(*metav1.PartialObjectMetadataList)

	decode := func(body []byte) ([]metav1.PartialObjectMetadata, string, error) {
		var got []metav1.PartialObjectMetadata
		in := &countingReader{r: bufio.NewReader(bytes.NewReader(body[len(protobufMagic):]))}
		next, err := decodeProtobufMetadata(in, func(ns *metav1.PartialObjectMetadata) error {
			got = append(got, *ns)
			return nil
		})
		return got, next, err
	}
	got, next, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if next != want.Continue || !apiequality.Semantic.DeepEqual(got, want.Items) {
		t.Errorf("decoded %d items, continue %q; want %d items, continue %q\ngot  %+v\nwant %+v", len(got), next, len(want.Items), want.Continue, got, want.Items)
	}
	// After the list come the envelope's empty contentEncoding and
	// contentType (fields 3 and 4); every cut before them is inside the list.
	emptyTrailer := []byte{3<<3 | 2, 0, 4<<3 | 2, 0}
	if !bytes.HasSuffix(body, emptyTrailer) {
		t.Fatalf("the body does not end in the empty fields 3 and 4: % x", body[len(body)-4:])
	}
	listStart := bytes.Index(body, []byte(want.Continue)) - 2 // in the list's ListMeta
	for cut := listStart; cut < len(body)-len(emptyTrailer); cut++ {
		if _, _, err := decode(body[:cut]); err == nil {
			t.Errorf("a body cut at byte %d of %d decoded without an error", cut, len(body))
		}
	}
}

// TestMetadataPageReadsProtobufAndJSON: MetadataPage asks for protobuf
// metadata, and reads a JSON answer too, visiting each item once.
func TestMetadataPageReadsProtobufAndJSON(t *testing.T) {
	protobufBody, _ := encodeMetadataList(t, metadataList())
	jsonBody, err := json.Marshal(metadataList())
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"protobuf": protobufBody, "json": jsonBody} {
		t.Run(name, func(t *testing.T) {
			var accept string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				accept = r.Header.Get("Accept")
				w.Write(body)
			}))
			defer srv.Close()
			client, err := RawClient(&rest.Config{Host: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			next, err := MetadataPage(context.Background(), client, "/api/v1/namespaces", metav1.ListOptions{}, func(ns *metav1.PartialObjectMetadata) error {
				names = append(names, ns.Name)
				return nil
			})
			if err != nil || next != "next-page" || fmt.Sprint(names) != "[ns-0 ns-1 ns-2]" {
				t.Errorf("MetadataPage = %q, %v, visited %v", next, err, names)
			}
			if accept != metadataAccept {
				t.Errorf("Accept = %q, want %q", accept, metadataAccept)
			}
		})
	}
}
