#!/usr/bin/env python3
"""Convert natasha's slovnet news NER model + navec news embeddings into the
single file feedwatch embeds (models/slovnet-ner-news.bin).

Offline development tool only: feedwatch never runs Python. Run it in a venv:

    python3 -m venv /tmp/venv
    /tmp/venv/bin/pip install natasha==1.6.0 slovnet==0.6.0 navec==0.10.0 razdel==0.5.0
    /tmp/venv/bin/python scripts/convert_slovnet.py --out models/slovnet-ner-news.bin

Both tars are read from the installed natasha 1.6.0 wheel (MIT licence):
natasha/data/model/slovnet_ner_news_v1.tar and
natasha/data/emb/navec_news_v1_1B_250K_300d_100q.tar.

What the file holds (see models/SLOVNET_MODEL_CARD.md for every change):
- the navec vocabulary pruned to the --keep most frequent words (navec's own
  counts), sorted by UTF-8 bytes so Rust can binary-search it without
  building a hash map at load time; <unk> is the row after the last word and
  <pad> is not stored (its vector is all zeros);
- navec's product quantisation unchanged: one u8 centroid index per
  3-dimensional chunk (100 per word) and the 100 x 256 x 3 float32 centroids;
- slovnet's arrays unchanged (float32, same shapes and layouts as model.json)
  and its shape and tag vocabularies.

File format (little endian): magic b"FWSLVNT1", u32 section count, then per
section: u16 name length, name (UTF-8), u8 dtype (1 f32, 2 u8, 3 u32,
4 UTF-8 text with '\\n' between items), u8 ndim, ndim x u32 dims, u64 byte
length, the bytes. Deterministic: the same inputs give the same bytes.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

import numpy as np

MAGIC = b"FWSLVNT1"
F32, U8, U32, TEXT = 1, 2, 3, 4

EXPECTED_MODEL_ID = "slovnet_ner_news_v1"
EXPECTED_NAVEC_ID = "news_v1_1B_250K_300d_100q"


def natasha_data():
    import natasha

    return os.path.join(os.path.dirname(natasha.__file__), "data")


def read_tar(path):
    with tarfile.open(path) as tar:
        return {m.name.lstrip("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def load_slovnet(path):
    files = read_tar(path)
    meta = json.loads(files["meta.json"])
    assert meta["id"] == EXPECTED_MODEL_ID and meta["protocol"] == 1, meta
    model = json.loads(files["model.json"])

    def array(weight):
        raw = files["arrays/%d.bin" % weight["array"]]
        assert weight["dtype"] == "float32", weight
        return np.frombuffer(raw, np.float32).reshape(weight["shape"])

    def vocab(name):
        return gzip.decompress(files["vocabs/%s.gz" % name]).decode("utf8").splitlines()

    return model, array, vocab("word"), vocab("shape"), vocab("tag"), files


def load_navec(path):
    files = read_tar(path)
    meta = json.loads(files["meta.json"])
    assert meta["id"] == EXPECTED_NAVEC_ID, meta
    raw = gzip.decompress(files["vocab.bin"])
    (size,) = struct.unpack("<I", raw[:4])
    counts = np.frombuffer(raw[4 : 4 + 4 * size], np.uint32)
    words = raw[4 + 4 * size :].decode("utf8").splitlines()
    assert len(words) == size == len(counts)
    pq = files["pq.bin"]
    vectors, dim, qdim, centroids = struct.unpack("<4I", pq[:16])
    indexes = np.frombuffer(pq[16 : 16 + vectors * qdim], np.uint8).reshape(vectors, qdim)
    codes = np.frombuffer(pq[16 + vectors * qdim :], np.float32).reshape(qdim, centroids, -1)
    assert dim == qdim * codes.shape[2]
    return words, counts, indexes, codes, files


def kept_word_ids(words, counts, keep):
    """Ids of the `keep` most frequent real words (ties: lower navec id first)."""
    real = [i for i, w in enumerate(words) if w not in ("<unk>", "<pad>")]
    real.sort(key=lambda i: (-int(counts[i]), i))
    return real[:keep]


class Writer:
    def __init__(self):
        self.sections = []

    def add(self, name, dtype, array_or_bytes, dims):
        if isinstance(array_or_bytes, np.ndarray):
            want = {F32: "<f4", U8: "u1", U32: "<u4"}[dtype]
            data = np.ascontiguousarray(array_or_bytes.astype(want, copy=False)).tobytes()
        else:
            data = array_or_bytes
        self.sections.append((name, dtype, tuple(int(d) for d in dims), data))

    def array(self, name, array, dtype=F32):
        self.add(name, dtype, array, array.shape)

    def text(self, name, items):
        assert all("\n" not in i for i in items)
        self.add(name, TEXT, "\n".join(items).encode("utf8"), (len(items),))

    def bytes(self):
        out = io.BytesIO()
        out.write(MAGIC)
        out.write(struct.pack("<I", len(self.sections)))
        for name, dtype, dims, data in self.sections:
            raw = name.encode("utf8")
            out.write(struct.pack("<H", len(raw)))
            out.write(raw)
            out.write(struct.pack("<BB", dtype, len(dims)))
            out.write(struct.pack("<%dI" % len(dims), *dims))
            out.write(struct.pack("<Q", len(data)))
            out.write(data)
        return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep", type=int, default=150_000, help="words kept from navec's 250,000")
    ap.add_argument("--ner-tar", default=None)
    ap.add_argument("--navec-tar", default=None)
    args = ap.parse_args()

    data = natasha_data()
    ner_tar = args.ner_tar or os.path.join(data, "model", "slovnet_ner_news_v1.tar")
    navec_tar = args.navec_tar or os.path.join(data, "emb", "navec_news_v1_1B_250K_300d_100q.tar")

    model, array, word_vocab, shape_vocab, tag_vocab, _ = load_slovnet(ner_tar)
    words, counts, indexes, codes, _ = load_navec(navec_tar)

    # slovnet looks words up in its own copy of navec's vocabulary and then
    # indexes navec's PQ rows with the same id; check they are one list.
    assert word_vocab == words, "slovnet word vocab differs from navec's"
    assert model["emb"]["word"]["id"] == EXPECTED_NAVEC_ID
    unk, pad = words.index("<unk>"), words.index("<pad>")
    # <pad> must embed to zeros (conv padding and batch padding are then the
    # same thing, which is what lets feedwatch skip it).
    assert not codes[np.arange(codes.shape[0]), indexes[pad]].any()

    kept = kept_word_ids(words, counts, args.keep)
    kept.sort(key=lambda i: words[i].encode("utf8"))
    kept_words = [words[i] for i in kept]
    blob = b"".join(w.encode("utf8") for w in kept_words)
    offsets = np.zeros(len(kept_words) + 1, np.uint32)
    np.cumsum([len(w.encode("utf8")) for w in kept_words], out=offsets[1:])
    rows = np.concatenate([indexes[kept], indexes[unk : unk + 1]], axis=0)

    w = Writer()
    meta = {
        "source": "natasha 1.6.0 (MIT): slovnet_ner_news_v1.tar + navec_news_v1_1B_250K_300d_100q.tar",
        "ner_tar_sha256": hashlib.sha256(open(ner_tar, "rb").read()).hexdigest(),
        "navec_tar_sha256": hashlib.sha256(open(navec_tar, "rb").read()).hexdigest(),
        "words_kept": len(kept_words),
        "words_source": len(words) - 2,
    }
    w.add("meta", TEXT, json.dumps(meta, sort_keys=True).encode("utf8"), (1,))
    w.add("vocab.offsets", U32, offsets, offsets.shape)
    w.add("vocab.bytes", U8, blob, (len(blob),))
    w.array("navec.indexes", rows, U8)  # (words + 1) x qdim, last row <unk>
    w.array("navec.codes", codes)  # qdim x centroids x chunk
    w.array("shape.embedding", array(model["emb"]["shape"]["weight"]))
    w.text("shape.vocab", shape_vocab)
    for n, layer in enumerate(model["encoder"]["layers"]):
        assert layer["conv"]["padding"] == 1 and layer["conv"]["weight"]["shape"][2] == 3
        w.array("conv%d.weight" % n, array(layer["conv"]["weight"]))  # out x in x kernel
        w.array("conv%d.bias" % n, array(layer["conv"]["bias"]))
        for part in ("weight", "bias", "mean", "std"):
            w.array("norm%d.%s" % (n, part), array(layer["norm"][part]))
    w.array("proj.weight", array(model["head"]["proj"]["weight"]))  # in x out
    w.array("proj.bias", array(model["head"]["proj"]["bias"]))
    w.array("crf.transitions", array(model["head"]["crf"]["transitions"]))  # from x to
    w.text("tag.vocab", tag_vocab)

    out = w.bytes()
    with open(args.out, "wb") as f:
        f.write(out)
    print(
        "wrote %s: %d bytes, %d words (of %d), sha256 %s"
        % (args.out, len(out), len(kept_words), len(words) - 2, hashlib.sha256(out).hexdigest()),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
