"""One small error hierarchy. Every message says what went wrong *and how to fix it*.

Third-party failures are wrapped at one point per client and re-raised `from` the cause;
only entry points (CLI, Streamlit, supervisor) turn these into messages or exit codes.
"""

from __future__ import annotations


class OlympusError(Exception):
    """Base class. ``hint`` tells the user what to do about it."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base

    @property
    def message(self) -> str:
        return super().__str__()


# --- configuration -------------------------------------------------------------------------
class SettingsError(OlympusError):
    hint = "Check the OLYMPUS_* environment variables (see README, Configuration)."


class CatalogError(OlympusError):
    hint = "Fix the model catalog file in models/ (see models/README.md)."


class AlreadyRunning(OlympusError):
    hint = "Another Olympus uses this data dir; stop it or set OLYMPUS_DATA_DIR to another folder."


class PortInUse(OlympusError):
    """A port Olympus must listen on is taken; the message names it and its setting."""


# --- documents -----------------------------------------------------------------------------
class InvalidDocument(OlympusError):
    """A file that cannot be ingested. Nothing of it is stored."""

    hint = "Upload a text-based PDF file."


class NotAPdf(InvalidDocument):
    hint = "Only PDF files are supported; export the document to PDF first."


class CorruptPdf(InvalidDocument):
    hint = "The file is damaged or incomplete; download or export it again."


class EncryptedPdf(InvalidDocument):
    hint = "Remove the password protection (e.g. print to PDF) and upload it again."


class NoExtractableText(InvalidDocument):
    hint = (
        "This looks like a scanned PDF: turn OCR on (OLYMPUS_OCR=auto with Tesseract "
        "installed) or run it through OCR first."
    )


class EmptyPdf(InvalidDocument):
    hint = "The PDF has no pages."


class ParseTimeout(InvalidDocument):
    hint = (
        "The PDF took too long to parse (it may be pathological); raise "
        "OLYMPUS_PARSE_TIMEOUT_S if it is a large, valid document."
    )


class FileTooLarge(InvalidDocument):
    hint = "Split the PDF or raise OLYMPUS_MAX_UPLOAD_MB."


class InvalidFileName(InvalidDocument):
    hint = "Rename the file to a plain name ending in .pdf."


class DocumentTooLarge(InvalidDocument):
    """A parse limit (pages, characters, passages, parser memory) was exceeded.

    The message names the limit and its setting; nothing of the document is stored.
    """

    hint = "Split the PDF, or raise the setting named in the message if the file is trusted."


class UploadRefused(OlympusError):
    """The upload queue is full for this session or for everyone (bytes or jobs)."""

    hint = "Wait until the files being indexed are done, then upload the rest."


class AnswerQueueFull(OlympusError):
    """Every slot of the engine is busy and the line of waiting questions is full."""

    hint = "Ask again in a moment; the answers being written will free their slots."

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after_s: float = 30.0
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class ChatLimit(OlympusError):
    """A browser has as many saved chats as allowed, or one chat grew past its size limit."""

    hint = "Delete chats you no longer need (sidebar), or start a new chat."


class ChatNotFound(OlympusError):
    hint = "It may have been deleted in another tab; choose a chat in the sidebar."


class IngestCancelled(OlympusError):
    """A queued or running ingest was cancelled by the user; nothing of it is stored."""

    hint = "Upload the file again to index it."


class DocumentNotFound(OlympusError):
    hint = "List documents with `python -m src docs list`."


class InvalidQuery(OlympusError):
    hint = "Type a question of a few words."


class EmbeddingModelUnavailable(OlympusError):
    hint = (
        "Set OLYMPUS_EMBEDDING_MODEL to a local sentence-transformers model directory, to a "
        "model name on the Hugging Face Hub (needs network once), or back to the bundled "
        "offline default all-MiniLM-L6-v2."
    )


# --- stores --------------------------------------------------------------------------------
class EmbeddingMismatch(OlympusError):
    """The configured embedding differs from the one the stored vectors were made with."""

    hint = "Use the embedding the library was built with, or ingest the PDFs again."


class StoreUnavailable(OlympusError):
    hint = "Check that the store is running and reachable, and its URL and credentials."


# --- generation ----------------------------------------------------------------------------
class BackendUnavailable(OlympusError):
    hint = "Start the engine (python startup.py) or configure another backend."


class BackendTimeout(BackendUnavailable):
    hint = "The engine is too slow on this hardware; pick a smaller model or raise the timeout."


class FirstTokenTimeout(BackendTimeout):
    hint = "Raise OLYMPUS_FIRST_TOKEN_TIMEOUT_S or use a smaller model."


class StallTimeout(BackendTimeout):
    hint = "Raise OLYMPUS_STALL_TIMEOUT_S or use a smaller model."


class GenerationInterrupted(OlympusError):
    hint = "The answer was cut off; ask again to retry."


class ModelNotFound(OlympusError):
    hint = "Pull it first: `python -m src models pull REPO[:QUANT]`."


class NotAGguf(OlympusError):
    hint = (
        "Give a .gguf model file (the format llama.cpp and Ollama load), e.g. one from a "
        "'-GGUF' repository on the Hugging Face Hub."
    )


class UnknownBackend(OlympusError):
    hint = "Use one of the backend names listed in this message."


class BackendNotConfigured(BackendUnavailable):
    """A backend left out of the chain because its settings are missing (reported, not hidden)."""

    hint = "Set the settings named in this message (see README, Configuration)."


# --- models and downloads ------------------------------------------------------------------
class DownloadError(OlympusError):
    hint = "Check the network connection and try again; the download resumes."


class GatedRepo(DownloadError):
    hint = "Accept the licence on the model page on huggingface.co and set HF_TOKEN."


class RepoNotFound(DownloadError):
    hint = "Check the repository and file name (python -m src models list shows the catalog)."


class NetworkUnavailable(DownloadError):
    hint = "The Hugging Face Hub is unreachable; Olympus keeps using models already on disk."


class DiskFull(DownloadError):
    hint = "Free disk space in the data dir or pick a smaller quantization."


class ChecksumMismatch(DownloadError):
    hint = "The file was corrupted; it was deleted, so pull again."


class OllamaNotRunning(BackendUnavailable):
    hint = "Start Ollama (`ollama serve`, or python startup.py) or set OLYMPUS_OLLAMA_HOST."


class ModelCreateFailed(OlympusError):
    hint = "Check the Ollama log; the half-created model was removed, so pull again."


class EngineStartTimeout(OlympusError):
    hint = "The engine did not become ready in time; see its log lines above."


# --- the service API -------------------------------------------------------------------------
class ServiceUnavailable(OlympusError):
    """The API process that owns the stores does not answer (starting, restarting, stopped)."""

    hint = (
        "Olympus' service is starting or restarting; try again in a few seconds. If it "
        "stays down, see the System page or `python -m src doctor`."
    )


class ServiceStarting(ServiceUnavailable):
    """startup.py runs on the data dir, but its service did not become ready in time."""

    hint = (
        "Wait until Olympus is up (its log, the UI or `python -m src doctor --no-pipeline` "
        "show the progress) and run the command again, or stop startup.py to work on the "
        "data dir without it."
    )


# --- requests to the service API (src/api/) -------------------------------------------------
class InvalidRequest(OlympusError):
    """A request the API cannot read: bad JSON, a field of the wrong type, too deep."""

    hint = "Fix the request as the message says (docs/api.md has every route's fields)."


class RequestTooLarge(InvalidRequest):
    hint = "Send a smaller request (the limits are in docs/api.md)."


class UnsupportedParameter(InvalidRequest):
    """An OpenAI request field Olympus cannot honour (n > 1, tools, a JSON schema...)."""

    hint = "Leave the field out (docs/api.md lists what each field does here)."


class UnsupportedMediaType(InvalidRequest):
    hint = "Upload a PDF (multipart field 'file', e.g. curl -F file=@paper.pdf)."


class RouteNotFound(InvalidRequest):
    hint = "The routes are listed in docs/api.md; the OpenAI base URL ends in /v1."


class MethodNotAllowed(InvalidRequest):
    hint = "Use the method docs/api.md gives for this route."


class RequestTimeout(InvalidRequest):
    """The request body stopped arriving (the front cuts off a client that stalls)."""

    hint = "Send the request body without pausing, then try again."


class JobNotFound(OlympusError):
    hint = "Jobs are kept for a while after they finish, for the key that made them; upload again."


class InvalidApiKey(OlympusError):
    hint = (
        "Send 'Authorization: Bearer <key>'; an admin creates keys with `python -m src keys "
        "create NAME` or on the System page."
    )


class ApiNotPublic(OlympusError):
    """The front answers API requests from other machines only when the admin allows it."""

    hint = (
        "Call the API from this machine, or an admin sets OLYMPUS_API_PUBLIC=true (keys "
        "are still required; see DEPLOYMENT.md)."
    )


class TooManyRequests(OlympusError):
    """One client has too many API requests in flight at once."""

    hint = "Wait for some of your requests to finish, then send more."


class KeyScopeRefused(OlympusError):
    """The key is valid but its scope does not allow this action."""

    hint = (
        "Use a key with the needed scope (read < write < admin); an admin makes one with "
        "`python -m src keys create NAME --scope write`."
    )
