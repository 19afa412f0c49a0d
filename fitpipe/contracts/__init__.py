"""The REST API's answers as pydantic models: the one contract between the API and its clients.

The API declares them as each route's `response_model` (so /openapi.json documents every answer) and the
dashboard decodes every answer with them (fitpipe_dashboard.client), so neither side guesses the other's
keys. They live in the core because both sides import them and neither may import the other: models only,
no FastAPI, no database, nothing of fitpipe_api or fitpipe_dashboard.

Rules for a change (both sides ship together, but pods of two releases meet during a rolling upgrade):
- a new answer field is optional (a default) until every client has it; clients ignore unknown fields;
- renaming or removing a field, or narrowing a type, is a breaking change of the API version (/api/v1);
- the JSON is what the API writes (fitpipe_api.responses, orjson): instants in UTC with `Z`, local days as
  YYYY-MM-DD, NaN as null; columnar series are lists of equal length, index i being one point.
"""

from fitpipe.contracts.adherence import (
    AdherenceAnswer,
    AdherenceFigures,
    AdherenceParticipant,
    DayColumns,
    FlagDetail,
    ParticipantSummary,
    SleepNights,
    Window,
)
from fitpipe.contracts.auth import Person, SessionOut
from fitpipe.contracts.catalog import CatalogAnswer, MetricInfo
from fitpipe.contracts.contact import ContactCounts, ContactRefused, ContactResult, FlaggedContactAnswer
from fitpipe.contracts.errors import ContractError, ErrorBody, decode
from fitpipe.contracts.health import Liveness, NotReady, Readiness, SchemaRange
from fitpipe.contracts.participants import (
    ContactLogEntry,
    Erasure,
    ParticipantDetail,
    ParticipantListEntry,
    ParticipantsAnswer,
    SourceState,
)
from fitpipe.contracts.pipeline import (
    QuarantineAnswer,
    QuarantineReasonCount,
    QuarantineRecord,
    Run,
    RunsAnswer,
    StudyRunCounts,
)
from fitpipe.contracts.sleep import SleepAnswer, SleepSession, SleepStages
from fitpipe.contracts.sources import ConsentLink
from fitpipe.contracts.timeseries import Series, TimeseriesAnswer

__all__ = [
    "AdherenceAnswer",
    "AdherenceFigures",
    "AdherenceParticipant",
    "CatalogAnswer",
    "ConsentLink",
    "ContactCounts",
    "ContactLogEntry",
    "ContactRefused",
    "ContactResult",
    "ContractError",
    "DayColumns",
    "Erasure",
    "ErrorBody",
    "FlagDetail",
    "FlaggedContactAnswer",
    "Liveness",
    "MetricInfo",
    "NotReady",
    "ParticipantDetail",
    "ParticipantListEntry",
    "ParticipantSummary",
    "ParticipantsAnswer",
    "Person",
    "QuarantineAnswer",
    "QuarantineReasonCount",
    "QuarantineRecord",
    "Readiness",
    "Run",
    "RunsAnswer",
    "SchemaRange",
    "Series",
    "SessionOut",
    "SleepAnswer",
    "SleepNights",
    "SleepSession",
    "SleepStages",
    "SourceState",
    "StudyRunCounts",
    "TimeseriesAnswer",
    "Window",
    "decode",
]
