"""The pipelines and stages of the generated account."""

from __future__ import annotations

from dataclasses import dataclass

from ropilot.generator.writer import BundleWriter


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline: its open stages in funnel order, then the won and the lost stage.

    Attributes:
        id: pipeline id.
        name: pipeline name.
        weight: share of deals created in it (relative).
        stage_ids: open stage ids in funnel order, then the won id, then the lost id.
        stage_names: names matching ``stage_ids``.
        probabilities: stage probabilities matching ``stage_ids``.
        amount_factor: multiplier of deal amounts in this pipeline.
        cycle_days: median sales cycle in working days for an average manager.
        meeting_stage: index of the open stage whose entry schedules a meeting (−1: none).
        offer_stage: index of the open stage whose entry sends an offer (−1: none).
    """

    id: str
    name: str
    weight: int
    stage_ids: tuple[str, ...]
    stage_names: tuple[str, ...]
    probabilities: tuple[int, ...]
    amount_factor: float
    cycle_days: float
    meeting_stage: int
    offer_stage: int

    @property
    def n_open(self) -> int:
        """Number of open stages."""
        return len(self.stage_ids) - 2

    @property
    def won_id(self) -> str:
        """Id of the won stage."""
        return self.stage_ids[-2]

    @property
    def lost_id(self) -> str:
        """Id of the lost stage."""
        return self.stage_ids[-1]


WON_NAME = "Успешно реализовано"
LOST_NAME = "Закрыто и не реализовано"

_DEFINITIONS = (
    (
        "Основная воронка",
        70,
        ("Новый лид", "Квалификация", "Встреча назначена", "КП отправлено", "Переговоры",
         "Договор"),
        (5, 10, 25, 40, 60, 80),
        1.0,
        14.0,
        2,
        3,
    ),
    (
        "Повторные продажи",
        20,
        ("Новый запрос", "Выявление потребности", "КП отправлено", "Согласование",
         "Счёт выставлен", "Ожидание оплаты"),
        (15, 25, 45, 60, 80, 90),
        0.7,
        8.0,
        -1,
        2,
    ),
    (
        "Тендеры",
        10,
        ("Поиск тендера", "Подготовка заявки", "Заявка подана", "Рассмотрение заявки",
         "Протокол", "Контракт"),
        (5, 15, 30, 45, 70, 90),
        2.2,
        24.0,
        -1,
        2,
    ),
)  # fmt: skip


def build_pipelines() -> list[PipelineSpec]:
    """The three pipelines of the generated account (ids 7001–7003, stage ids 70011…)."""
    specs: list[PipelineSpec] = []
    for number, (name, weight, opens, probs, amount, cycle, meeting, offer) in enumerate(
        _DEFINITIONS, start=1
    ):
        pid = str(7000 + number)
        ids = tuple(f"{pid}{k}" for k in range(1, len(opens) + 3))
        specs.append(
            PipelineSpec(
                id=pid,
                name=name,
                weight=weight,
                stage_ids=ids,
                stage_names=(*opens, WON_NAME, LOST_NAME),
                probabilities=(*probs, 100, 0),
                amount_factor=amount,
                cycle_days=cycle,
                meeting_stage=meeting,
                offer_stage=offer,
            )
        )
    return specs


def write_pipelines(out: BundleWriter, specs: list[PipelineSpec]) -> None:
    """Write the ``pipelines`` and ``stages`` tables.

    Args:
        out: the open bundle.
        specs: the pipelines from :func:`build_pipelines`.
    """
    for spec in specs:
        out["pipelines"].write((spec.id, spec.name))
        n_open = spec.n_open
        for k, (sid, name, prob) in enumerate(
            zip(spec.stage_ids, spec.stage_names, spec.probabilities, strict=True)
        ):
            kind = "open" if k < n_open else ("won" if k == n_open else "lost")
            out["stages"].write((sid, spec.id, name, (k + 1) * 10, kind, prob))
