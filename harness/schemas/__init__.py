"""The harness's config files as pydantic models, and nothing else.

This package is the bottom layer of the configuration: it imports pydantic and itself only (no
YAML reading, no file lookup, no torch), so anything may import it. Reading files into these models
is `harness.config` (tasks, tracks), `harness.suites`, `harness.submissions` and `harness.study`.
"""

from harness.schemas.base import Strict
from harness.schemas.budget import BudgetConfig
from harness.schemas.efficiency import EfficiencyConfig
from harness.schemas.eval import EvalConfig, SamplingConfig, SamplingSettings
from harness.schemas.studies import StudyConfig, TrackVariant
from harness.schemas.submissions import (
    TRACK_FIXED_FIELDS,
    DataMatchConfig,
    DataRecipeConfig,
    DataSourceConfig,
    DataSourceKind,
    MatchBy,
    SubmissionConfig,
)
from harness.schemas.suites import LocalTaskHeader, SuiteConfig, SuiteTaskConfig
from harness.schemas.tasks import DataSource, TaskConfig, TaskRef, task_ref
from harness.schemas.tracks import (
    BaseModelConfig,
    DomainConfig,
    DomainTrainConfig,
    GeneralSuiteConfig,
    PretrainConfig,
    ResourcesConfig,
    SelectionConfig,
    TinyModelConfig,
    TrackConfig,
    TrainingDefaults,
    ValidationConfig,
)

__all__ = [
    "TRACK_FIXED_FIELDS", "BaseModelConfig", "BudgetConfig", "DataMatchConfig", "DataRecipeConfig", "DataSource",
    "DataSourceConfig", "DataSourceKind", "DomainConfig", "DomainTrainConfig", "EfficiencyConfig", "EvalConfig", "GeneralSuiteConfig",
    "LocalTaskHeader", "MatchBy", "PretrainConfig", "ResourcesConfig", "SamplingConfig", "SamplingSettings", "SelectionConfig", "Strict", "StudyConfig", "TrackVariant",
    "SubmissionConfig", "SuiteConfig", "SuiteTaskConfig", "TaskConfig", "TaskRef", "TinyModelConfig", "TrackConfig",
    "TrainingDefaults", "ValidationConfig", "task_ref",
]
