"""Emotion "auto": each sentence's emotion read from its words by the text-emotion model
(IndexTTS2's Qwen3 fine-tune, engines/unitaf/text_emotion.py), for every engine.

Decoding is greedy, so a script always gets the same emotions (the model's 117 B
generation_config.json has no room for a sampling block: the reference most likely decodes
greedily too). The inferred emotions become inline tags (core.emotion.auto_tagged), so both engines —
the embedded one too, which never imports the neural engine — speak and animate them exactly
like tags a writer typed; tags already in the script win. The model loads once per model
folder and answers are cached by sentence.
"""
from dataclasses import replace

from ..core.emotion import AUTO_EMO_ALPHA, auto_tagged, emotion_label, is_auto
from .contract import EngineUnavailable
from .option_schema import STORE_OPTIONS
from .unitaf.options import DEVICE, PRECISION

FEATURE = "emotion-text"
# The options a request may carry for the text-emotion model, whatever its engine.
TEXT_EMOTION_OPTIONS = STORE_OPTIONS + (DEVICE, PRECISION)
_models = {}      # (cache_dir, model_dir, device) -> TextEmotion


def _missing_message(store):
    from .model_files import human_size
    from .model_store import download_size
    missing = store.missing((FEATURE,))
    if store.model_dir:   # a model folder is never downloaded into: say which files to copy
        return "Emotion 'auto' needs the text-emotion model. " + store.missing_message(missing)
    size = download_size(missing)
    return (f"Emotion 'auto' needs the text-emotion model ({len(missing)} file(s), about {human_size(size)} to "
            f"download): run `models download --feature {FEATURE}` (or Download Models in the add-on "
            "preferences), or choose an emotion.")


def _auto_store(options):
    """The model store 'auto' reads, once PyTorch is known to be installed (EngineUnavailable
    otherwise); nothing is loaded."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        raise EngineUnavailable("Emotion 'auto' needs PyTorch for the text-emotion model: use 'Install neural "
                                "runtime' in the add-on preferences (or the CLI command `install-runtime`).")
    from .unitaf.store import ModelStore
    return ModelStore(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"))


def require(options):
    """The model's store when 'auto' can run here (PyTorch installed, files present), without
    loading anything; EngineUnavailable saying what to install or download otherwise."""
    store = _auto_store(options)
    if store.missing((FEATURE,)):
        raise EngineUnavailable(_missing_message(store))
    return store


def text_emotion_model(options):
    """The loaded text-emotion model for these engine options (model_dir/cache_dir, device, and
    the float type of the neural engine's precision: fp16 on CUDA, bf16 on CPUs with native bf16;
    int8 means int8 GPT weights, and this model then keeps auto's float type: its guessed passes
    feed many rows, where int8 weights were slower than fp32 here, bench/README.md);
    EngineUnavailable with what to install or download when it cannot load."""
    store = require(options)
    from .unitaf import devices
    device = devices.pick_device(options.get("device"))
    prec = devices.pick_precision(device, options.get("precision"))
    key = (store.cache_dir, store.model_dir, str(device), str(prec.dtype))
    if key not in _models:
        from .unitaf.text_emotion import TextEmotion
        # Greedy: the same script gives the same emotions.
        _models[key] = TextEmotion.load(store, device=device, dtype=prec.dtype, greedy=True)
    return _models[key]


def resolve_auto(request):
    """`request` (GenerateRequest, or LipsyncRequest with a transcript) with emotion "auto"
    turned into inline tags per sentence; (request, notes). Unchanged when not auto."""
    if not is_auto(request.emotion):
        return request, []
    text_field = "transcript" if hasattr(request, "transcript") else "text"
    text = getattr(request, text_field)
    if not text:
        raise EngineUnavailable("Emotion 'auto' reads the emotion from the words: give a transcript, "
                                "or choose an emotion.")
    model = text_emotion_model(request.options)
    # every sentence in one batch, then each read from the cache
    tagged, inferred = auto_tagged(text, model.vector, AUTO_EMO_ALPHA, prefetch=model.prefetch)
    notes = ["Emotion from the words: " + "; ".join(
        f"\"{sentence[:30]}{'…' if len(sentence) > 30 else ''}\" {emotion_label(vec)}" for sentence, vec in inferred)]
    if inferred and model.chat_template is None:
        notes.append("Note: " + model.prompt_note + ".")
    return replace(request, **{text_field: tagged}, emotion="calm:0"), notes if inferred else []


def check_request(engine, request):
    """The engine's cheap check of `request` (check_lipsync for a LipsyncRequest), run before any
    synthesis: an 'auto' emotion is checked as a neutral one and the text-emotion model is not
    run, but its files are required too, and every missing file (the engine's and the emotion
    model's) is named in one message. Returns the CheckedRequest (its request keeps 'auto')."""
    from .contract import LipsyncRequest
    lipsync = isinstance(request, LipsyncRequest)
    check = engine.check_lipsync if lipsync else engine.check
    if not is_auto(request.emotion):
        return check(request)
    if not (request.transcript if lipsync else request.text):
        raise EngineUnavailable("Emotion 'auto' reads the emotion from the words: give a transcript, "
                                "or choose an emotion.")
    from .unitaf.store import ModelsMissing
    store = _auto_store(request.options)
    own = store.missing((FEATURE,))
    try:
        checked = check(replace(request, emotion="calm:0"))
    except ModelsMissing as exc:
        if not own:
            raise
        ids = {st.spec.id for st in exc.missing}
        missing = list(exc.missing) + [st for st in own if st.spec.id not in ids]
        how = ("get them with 'Download models' (add-on preferences) or `models download`, plus the text-emotion model "
               f"of emotion 'auto' with `models download --feature {FEATURE}`")
        raise ModelsMissing(store.missing_message(missing, how=how), missing) from None
    if own:
        raise EngineUnavailable(_missing_message(store))
    return replace(checked, request=keep_auto(request, checked.request))


def keep_auto(original, checked):
    """The checked request, still 'auto' when the original was (the worker resolves it)."""
    return replace(checked, emotion=original.emotion) if is_auto(original.emotion) else checked
