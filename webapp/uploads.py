"""Limits on what the app takes from the web, applied before anything is decoded.

Gradio decodes an image payload in full before a callback sees it, and decodes a `data:` URL
payload (`{"url": "data:image/png;base64,...", "meta": {"_type": "gradio.FileData"}}`, no path)
straight from the request body, which `max_file_size` does not limit: that cap applies to
/gradio_api/upload only. So the app's image components open payloads themselves
(`open_payload`, within the decoding budget), `data:` URLs are held to the upload cap, and
`BodyLimit` caps every request body.
"""
import base64
import binascii

from deepgen.preprocess import MAX_DECODED_BYTES, NOT_AN_IMAGE, InputError, open_image

MAX_UPLOAD_BYTES = 20 * 2**20    # a file upload; give the same to `launch(max_file_size=...)`
MAX_FORM_BYTES = MAX_UPLOAD_BYTES + 2**20   # a multipart request: one upload and its fields
MAX_JSON_BYTES = 2**20           # any other request: the app's payloads are paths and numbers


def source(payload):
    """A Gradio image payload (ImageData/FileData) → what holds its picture: a path, or the bytes
    of a `data:` URL no larger than the upload cap."""
    url = getattr(payload, "url", None)
    if isinstance(url, str) and url.startswith("data:"):
        return data_url_bytes(url)
    if getattr(payload, "path", None) is None:
        raise InputError("No image was given: upload a picture of a digit.")
    return payload.path


def data_url_bytes(url, limit=MAX_UPLOAD_BYTES):
    """The bytes of a base64 `data:` URL, refused unread when they would exceed `limit`."""
    head, _, data = url.partition(",")
    if len(data) // 4 * 3 > limit:
        raise InputError(f"The picture is too large: at most {limit // 2**20} MB.")
    if not head.endswith(";base64"):
        raise InputError(NOT_AN_IMAGE)
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        raise InputError(NOT_AN_IMAGE) from None


def open_payload(payload, budget=MAX_DECODED_BYTES):
    """An image payload → a PIL image not yet decoded, whose decoding fits `budget` (a large JPEG
    set to decode reduced); InputError for a picture too large or not a picture."""
    return None if payload is None else open_image(source(payload), budget)


def check_payload(payload, budget=MAX_DECODED_BYTES):
    """InputError unless Gradio can decode the payload at full size, as RGBA, within `budget`;
    reads the header only."""
    if payload is None:
        return
    pil = open_image(source(payload), budget, reduce=False)
    try:
        if pil.width * pil.height * 4 > budget:
            raise InputError(f"The image is too large ({pil.width}×{pil.height}): "
                             f"at most {budget // 4 // 1_000_000} megapixels.")
    finally:
        pil.close()


class BodyLimit:
    """ASGI middleware: a request whose body exceeds its limit (multipart forms: `form_bytes`,
    anything else: `json_bytes`) gets 413 before or as soon as the excess arrives.

    Install with `demo.launch(app_kwargs={"middleware": [starlette.middleware.Middleware(BodyLimit)]})`."""

    def __init__(self, app, form_bytes=MAX_FORM_BYTES, json_bytes=MAX_JSON_BYTES):
        self.app, self.form_bytes, self.json_bytes = app, form_bytes, json_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        form = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.form_bytes if form else self.json_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, receive, send, limit)
        received, started = 0, False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope, receive, send, limit):
        from starlette.responses import JSONResponse

        detail = f"The request is too large: at most {limit // 2**20} MB."
        await JSONResponse({"detail": detail, "error": detail}, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass
