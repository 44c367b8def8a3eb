package tenant

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// metadataAccept asks for metadata alone, as protobuf, with JSON for a
// server that has no protobuf: what client-go's metadata client asks.
const metadataAccept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," +
	"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

// protobufMagic starts every protobuf body of the API server.
var protobufMagic = []byte("k8s\x00")

// The protobuf field numbers MetadataPage reads: the body is a
// runtime.Unknown whose raw bytes are a PartialObjectMetadataList.
const (
	unknownRawField   = 2
	listMetadataField = 1
	listItemsField    = 2
	// maxItemSize bounds what one item may claim to need: the API server
	// stores no object above a few megabytes.
	maxItemSize = 64 << 20
)

// MetadataPage reads one page of the list at path as metadata, visiting
// each item as soon as it is decoded, and returns the continue token.
// client-go's metadata client reads a page whole and then decodes all of
// it: a list of 10,000 namespaces read in one request held 25 MB at once,
// where this holds one namespace.
func MetadataPage(ctx context.Context, client rest.Interface, path string, opts metav1.ListOptions, visit func(*metav1.PartialObjectMetadata) error) (string, error) {
	body, err := listRequest(client, path, opts).SetHeader("Accept", metadataAccept).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	if magic, _ := r.Peek(len(protobufMagic)); !bytes.Equal(magic, protobufMagic) {
		return decodePage(json.NewDecoder(r), visit)
	}
	if _, err := r.Discard(len(protobufMagic)); err != nil {
		return "", err
	}
	return decodeProtobufMetadata(&countingReader{r: r}, visit)
}

// decodeProtobufMetadata reads a runtime.Unknown field by field, and
// decodes the list in its raw bytes as they come.
func decodeProtobufMetadata(in *countingReader, visit func(*metav1.PartialObjectMetadata) error) (string, error) {
	var next string
	for {
		field, size, err := readField(in)
		if errors.Is(err, io.EOF) {
			return next, nil
		}
		if err != nil {
			return "", err
		}
		if field != unknownRawField {
			if _, err := in.Discard(size); err != nil {
				return "", err
			}
			continue
		}
		if next, err = decodeProtobufList(in, in.n+size, visit); err != nil {
			return "", err
		}
	}
}

// decodeProtobufList reads a PartialObjectMetadataList that ends at offset
// end of in, visiting each item.
func decodeProtobufList(in *countingReader, end int64, visit func(*metav1.PartialObjectMetadata) error) (string, error) {
	var next string
	var buf []byte
	for in.n < end {
		field, size, err := readField(in)
		if err != nil {
			return "", noEOF(err)
		}
		if in.n+size > end || size > maxItemSize {
			return "", fmt.Errorf("a field of %d bytes runs past its list", size)
		}
		if field != listMetadataField && field != listItemsField {
			if _, err := in.Discard(size); err != nil {
				return "", noEOF(err)
			}
			continue
		}
		// Unmarshal copies what it keeps, so one buffer serves every item.
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(in, buf); err != nil {
			return "", noEOF(err)
		}
		if field == listMetadataField {
			var meta metav1.ListMeta
			if err := meta.Unmarshal(buf); err != nil {
				return "", err
			}
			next = meta.Continue
			continue
		}
		item := &metav1.PartialObjectMetadata{}
		if err := item.Unmarshal(buf); err != nil {
			return "", err
		}
		if err := visit(item); err != nil {
			return "", err
		}
	}
	return next, nil
}

// readField reads a protobuf field's key and, as every field of the
// messages MetadataPage reads is length-delimited (wire type 2), its
// length. It returns io.EOF only at the end of in, before a field.
func readField(in *countingReader) (field, size int64, err error) {
	key, err := binary.ReadUvarint(in)
	if err != nil {
		return 0, 0, err
	}
	if wireType := key & 7; wireType != 2 {
		return 0, 0, fmt.Errorf("protobuf field %d has wire type %d, not a length-delimited one", key>>3, wireType)
	}
	length, err := binary.ReadUvarint(in)
	if err != nil {
		return 0, 0, noEOF(err)
	}
	if length > 1<<40 {
		return 0, 0, fmt.Errorf("protobuf field %d claims %d bytes", key>>3, length)
	}
	return int64(key >> 3), int64(length), nil
}

// noEOF is err, where an end of input inside a message is unexpected.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// countingReader counts the bytes read from r, so that a message's fields
// stop at its length.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Discard(n int64) (int64, error) {
	discarded, err := io.CopyN(io.Discard, c, n)
	return discarded, err
}
