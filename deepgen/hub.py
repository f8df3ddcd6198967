"""Publish a checkpoint on the Hugging Face Hub, in the same layout `deepgen.save` writes locally
(weights, config, metrics.json with the calibration, model card), so `deepgen.load(repo_id)` reads it.

A push always uses the token it is given (a visitor's own sign-in) and never the host's
(`HF_TOKEN` or a saved login), so nobody can publish in the host's name."""
import tempfile
from pathlib import Path

from .checkpoint import save, valid_repo_id


class PushError(RuntimeError):
    """The push did not happen; the message says why."""


def push(model, repo_id, token=None, private=False, command=None):
    """Upload `model` to the Hub repo `repo_id` (created if needed) with `token`, which is
    required; returns the repo's URL."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    repo_id = (repo_id or "").strip()
    if not valid_repo_id(repo_id):
        raise PushError(f"'{repo_id[:100]}' is not a Hub repo id: write it as owner/name.")
    if not isinstance(token, str) or not token.strip():
        raise PushError("Sign in with Hugging Face (or give a token with write access) to push: "
                        "the host's own token is never used.")
    if constants.HF_HUB_OFFLINE:
        raise PushError("The Hugging Face Hub cannot be reached: offline mode is on (HF_HUB_OFFLINE=1). "
                        "Save the checkpoint locally and push it where there is a network.")
    config = getattr(model, "config", None) or {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = save(model, Path(tmp) / "checkpoint", command=command or config.get("command"),
                      metrics=getattr(model, "metrics", None), description=config.get("description"),
                      training=config.get("training"))
        api = HfApi(token=token.strip())
        try:
            url = api.create_repo(repo_id, exist_ok=True, private=private)
            api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                              commit_message=f"deepgen {model.kind} checkpoint")
        except OfflineModeIsEnabled:
            raise PushError("The Hugging Face Hub cannot be reached: offline mode is on (HF_HUB_OFFLINE=1).") from None
        except HfHubHTTPError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                raise PushError(f"The Hub refused the push to '{repo_id}' ({status}): give a token with "
                                "write access to that repo.") from None
            raise PushError(f"The Hub refused the push to '{repo_id}': {exc}") from None
        except Exception as exc:  # network errors come from httpx/requests/OSError
            raise PushError(f"Could not reach the Hugging Face Hub to push '{repo_id}' "
                            f"(offline?): {type(exc).__name__}: {exc}") from None
    return str(url)
