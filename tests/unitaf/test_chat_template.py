"""The text-emotion prompt rendered from a model folder's own chat template, exactly as
transformers' apply_chat_template renders it (fixture: tests/unitaf/fixtures/chat_templates, made
with transformers 4.52.1 and 5.25.0), and the stock rendering only when the folder has none."""
import json
import pathlib
import shutil

import pytest

from unitaf_blender.engines.unitaf.chat_template import TemplateError, load_chat_template, special_tokens
from unitaf_blender.engines.unitaf.text_emotion import STOCK_PROMPT_NOTE, emotion_prompt

pytest.importorskip("jinja2")

FX = pathlib.Path(__file__).parent / "fixtures" / "chat_templates"
EMO = pathlib.Path(__file__).parent / "fixtures" / "text_emotion"
EXPECTED = json.loads((FX / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED["rendered"]))
def test_prompt_renders_exactly_as_transformers(name):
    template = load_chat_template(str(FX / name), str(FX / "tokenizer_config.json"))
    assert template.origin == name
    got = [emotion_prompt(text, template) for text in EXPECTED["texts"]]
    assert got == EXPECTED["rendered"][name]


def test_the_three_templates_differ_where_it_matters():
    """The fixture would not catch a renderer that ignores the file: the templates' prompts differ."""
    first = {name: rows[0] for name, rows in EXPECTED["rendered"].items()}
    assert first["qwen3_stock.jinja"] == emotion_prompt(EXPECTED["texts"][0])     # the stock fallback
    assert first["qwen3_stock.jinja"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert first["chatml.jinja"].endswith("<|im_start|>assistant\n")             # no think block
    assert first["ignores_thinking.jinja"].startswith("<|endoftext|>\n")         # bos_token from the config
    assert len(set(first.values())) == 3


def test_template_file_wins_over_tokenizer_config_then_config_then_none(tmp_path):
    cfg = json.loads((FX / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["chat_template"] = (FX / "chatml.jinja").read_text(encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    shutil.copy(FX / "qwen3_stock.jinja", tmp_path / "chat_template.jinja")
    text = EXPECTED["texts"][1]
    both = load_chat_template(str(tmp_path / "chat_template.jinja"), str(tmp_path / "tokenizer_config.json"))
    assert emotion_prompt(text, both) == EXPECTED["rendered"]["qwen3_stock.jinja"][1]
    config_only = load_chat_template(str(tmp_path / "absent.jinja"), str(tmp_path / "tokenizer_config.json"))
    assert config_only.origin == "tokenizer_config.json"
    assert emotion_prompt(text, config_only) == EXPECTED["rendered"]["chatml.jinja"][1]
    cfg["chat_template"] = [{"name": "tool_use", "template": "x"}, {"name": "default", "template": cfg["chat_template"]}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    named = load_chat_template(None, str(tmp_path / "tokenizer_config.json"))
    assert emotion_prompt(text, named) == EXPECTED["rendered"]["chatml.jinja"][1]
    assert load_chat_template(None, None) is None
    assert load_chat_template(str(tmp_path / "absent.jinja"), str(tmp_path / "absent.json")) is None


def test_special_tokens_as_transformers_passes_them():
    cfg = {"bos_token": None, "eos_token": {"content": "<|im_end|>", "lstrip": False}, "pad_token": "<|endoftext|>",
           "additional_special_tokens": ["<|im_start|>", {"content": "<|im_end|>"}], "model_max_length": 5}
    assert special_tokens(cfg) == {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                                   "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}


def test_bad_templates_are_clear_errors_and_the_sandbox_holds(tmp_path):
    (tmp_path / "raise.jinja").write_text("{{ raise_exception('no system prompt allowed') }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="raise.jinja: the chat template failed to render "
                                            r"\(no system prompt allowed\)"):
        emotion_prompt("x", load_chat_template(str(tmp_path / "raise.jinja"), None))
    (tmp_path / "broken.jinja").write_text("{% for m in messages %}", encoding="utf-8")
    with pytest.raises(TemplateError, match="broken.jinja: not a valid Jinja chat template"):
        load_chat_template(str(tmp_path / "broken.jinja"), None)
    # a template from the Hub is untrusted: no attribute tricks, no mutating what it is given
    (tmp_path / "escape.jinja").write_text("{{ messages.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(TemplateError):
        emotion_prompt("x", load_chat_template(str(tmp_path / "escape.jinja"), None))
    (tmp_path / "mutate.jinja").write_text("{{ messages.append(1) }}", encoding="utf-8")
    with pytest.raises(TemplateError):
        emotion_prompt("x", load_chat_template(str(tmp_path / "mutate.jinja"), None))


def test_text_emotion_uses_the_folders_template_else_says_it_falls_back(tmp_path):
    """TextEmotion.load renders from the folder's chat_template.jinja; a folder without one gets
    the stock rendering and a note saying so."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from unitaf_blender.engines.unitaf.text_emotion import TextEmotion
    folder = tmp_path / "emo"
    shutil.copytree(EMO, folder, ignore=shutil.ignore_patterns("untied", "expected*", "tokenizer_cases*"))
    shutil.copy(FX / "chatml.jinja", folder / "chat_template.jinja")
    emo = TextEmotion.load(folder, greedy=True)
    text = EXPECTED["texts"][0]
    assert emo.prompt_note == "prompt rendered from chat_template.jinja"
    assert emo.prompt_ids(text) == emo.tokenizer.encode(EXPECTED["rendered"]["chatml.jinja"][0])
    (folder / "chat_template.jinja").unlink()
    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    stock = TextEmotion.load(folder, greedy=True)
    assert stock.chat_template is None and stock.prompt_note == STOCK_PROMPT_NOTE
    assert stock.prompt_ids(text) == stock.tokenizer.encode(EXPECTED["rendered"]["qwen3_stock.jinja"][0])
