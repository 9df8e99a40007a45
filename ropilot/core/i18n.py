"""Russian and English labels for what ropilot prints."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ru", "en"]

_LABELS: dict[str, tuple[str, str]] = {
    # key: (ru, en)
    "table": ("Таблица", "Table"),
    "rows": ("Строк", "Rows"),
    "account": ("Аккаунт", "Account"),
    "teams": ("Команды", "Teams"),
    "managers": ("Менеджеры", "Managers"),
    "pipelines": ("Воронки", "Pipelines"),
    "stages": ("Этапы", "Stages"),
    "companies": ("Компании", "Companies"),
    "contacts": ("Контакты", "Contacts"),
    "deals": ("Сделки", "Deals"),
    "stage_changes": ("Смены этапов", "Stage changes"),
    "assignments": ("Смены ответственного", "Reassignments"),
    "activities": ("Активности", "Activities"),
    "tasks": ("Задачи", "Tasks"),
    "events": ("События", "Events"),
    "total": ("Всего", "Total"),
    "imported": ("Импортировано", "Imported"),
    "exported": ("Экспортировано", "Exported"),
    "generated": ("Сгенерировано", "Generated"),
    "in_store": ("В хранилище", "In the store"),
    "rows_per_s": ("строк/с", "rows/s"),
    "store_summary": ("Что в хранилище", "What is in the store"),
    "open_deals": ("Открытые сделки", "Open deals"),
    "won_deals": ("Выигранные сделки", "Won deals"),
    "lost_deals": ("Проигранные сделки", "Lost deals"),
    "revenue": ("Выручка (выигранные)", "Revenue (won)"),
    "open_amount": ("Сумма открытых", "Open amount"),
    "period": ("Период данных", "Data period"),
    "plugin": ("Плагин", "Plugin"),
    "distribution": ("Дистрибутив", "Distribution"),
    "version": ("Версия", "Version"),
    "hooks": ("Хуки", "Hooks"),
    "error": ("Ошибка", "Error"),
    "report": ("Отчёт", "Report"),
    "as_of": ("на", "as of"),
}


def t(key: str, lang: Lang = "ru") -> str:
    """The label for ``key`` in ``lang`` (the key itself when unknown)."""
    pair = _LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "ru" else pair[1]
