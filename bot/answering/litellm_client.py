"""The one module that imports litellm and sets its process-wide options.

litellm reads `LITELLM_LOCAL_MODEL_COST_MAP` while it is imported: set first, it makes litellm
use the model map bundled with it instead of fetching one from the internet. So everything in
lorebot takes litellm from here (`from bot.answering.litellm_client import litellm`), never by
`import litellm`, and the option is always set in time. An explicit value in the environment wins.

litellm takes seconds to import: `bot.answering` itself never imports this module; only
`llm.py` and `prompt.py` do, and `bot/runtime.py` imports those only when `LLM_MODEL` is set.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" or "Provider List" lines printed on errors

__all__ = ["litellm"]
