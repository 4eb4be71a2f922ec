"""Report and headline texts in Russian and English: the one place they live."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Support report",
        "period": "Period",
        "previous": "previous period",
        "time_zone": "time zone",
        "partial_days": "Partial days (not whole days, shown hatched in the daily chart): {days}.",
        "compared_with": "Changes are against the previous period of the same length: {period}.",
        "no_previous": "No data for the previous period ({period}): changes are not shown.",
        "partial": "partial day",
        "headline": "Headline numbers",
        "metric": "Metric",
        "value": "Value",
        "change": "Change",
        "conversations": "Conversations",
        "first_response_median_s": "Human first response, median",
        "first_response_p90_s": "Human first response, p90",
        "bot_first_response_median_s": "Bot first response, median",
        "bot_first_response_p90_s": "Bot first response, p90",
        "operator_response_median_s": "Operator response, median (all replies)",
        "csat": "CSAT (share of 4-5)",
        "rating_response_rate": "Rating response rate",
        "fcr": "First-contact resolution",
        "deflection": "Deflection (self-service)",
        "handoff_rate": "Handoff rate",
        "queue_wait_median_s": "Queue wait, median",
        "queue_wait_p90_s": "Queue wait, p90",
        "tickets": "Tickets",
        "open_tickets": "Tickets still open",
        "handoff_reasons": "Why conversations went to a person",
        "reason": "Reason",
        "count": "Count",
        "share": "Share",
        "operators": "Operators",
        "operator": "Operator",
        "ratings": "Ratings",
        "articles": "Articles: rewrite these first",
        "harm": "Harm",
        "def_harm": (
            "ranked by harm: not-helpful votes plus handoffs after the article, beyond what "
            "an average article shown as often gets"
        ),
        "article": "Article",
        "shown": "Shown",
        "opened": "Opened",
        "helpful": "Helpful",
        "not_helpful": "Not helpful",
        "handoff_after": "Handoff after",
        "categories": "Tickets by category",
        "subcategories": "Tickets by subcategory",
        "category": "Category",
        "subcategory": "Subcategory",
        "gaps": "Content gaps: questions nothing answered",
        "gap_total": "Unanswered messages",
        "sampled": "themes estimated from a random sample",
        "keywords": "Keywords",
        "size": "Size",
        "examples": "Examples",
        "suggested_title": "Suggested article title",
        "nearest": "Closest existing article (similarity: high = rewrite it, low = write one)",
        "experiment": "Experiment",
        "arm": "Arm",
        "test": "Test",
        "p_value": "p-value",
        "note": "Note",
        "plot_daily": "Conversations and handoffs per day",
        "plot_load": "Tickets open at once by hour of day",
        "plot_frt": "Human first response time, minutes",
        "plot_categories": "Tickets by category",
        "day": "day",
        "date": "date",
        "minutes": "minutes",
        "open_at_once": "tickets open",
        "this_period": "this period",
        "hour": "hour of day",
        "no_data": "no data",
        "today": "Today",
        "week": "This week",
        "resolution": "resolution",
        "handoffs": "Handoffs",
        "deflected": "Solved by articles",
        "first_response": "first response",
        "reason_low_confidence": "Nothing in the knowledge base fit",
        "reason_user_asked": "The user asked for a person",
        "reason_step_failed": "A step of a guide failed",
        "reason_not_helpful": "The suggested articles did not help",
        "reason_operator_busy": "Operators busy",
        "reason_unknown": "Not recorded",
        "definition": "Definition",
        "operators_note": "each figure as defined in the headline, over the operator's tickets",
        "bot_resolution_median_s": "Resolution by the bot, median",
        "ticket_resolution_median_s": "Resolution of tickets, median",
        "resolution_median_s": "Resolution, all conversations, median",
        "def_conversations": "Conversations whose first message falls in the period.",
        "def_deflection": (
            "Share of conversations solved without a person: self-service close, a ticket "
            "withdrawn because an article helped, or helpful feedback and no handoff; never "
            "when an operator answered."
        ),
        "def_handoff_rate": "Share of conversations with a handoff to a person.",
        "def_bot_first_response_median_s": "First message -> the bot's first reply or suggestion.",
        "def_bot_first_response_p90_s": "As above, 90th percentile.",
        "def_first_response_median_s": (
            "Handoff -> the first operator reply (queue wait included)."
        ),
        "def_first_response_p90_s": "As above, 90th percentile.",
        "def_operator_response_median_s": (
            "Every operator reply that answered waiting user messages: the earliest of them "
            "-> the reply."
        ),
        "def_resolution_median_s": (
            "First message -> resolution, over every resolved conversation (bot and tickets)."
        ),
        "def_bot_resolution_median_s": (
            "Conversations without a ticket: first message -> self-service close."
        ),
        "def_ticket_resolution_median_s": (
            "Tickets: first message -> the ticket's last close (not reopened after it). Per "
            "operator the same, over their tickets."
        ),
        "def_queue_wait_median_s": "First queued -> taken by an operator.",
        "def_queue_wait_p90_s": "As above, 90th percentile.",
        "def_csat": "Share of 4-5 among each conversation's last rating.",
        "def_rating_response_rate": "Conversations rated among those asked for a rating.",
        "def_fcr": "Tickets solved at first contact (never reopened) among those with an answer.",
        "def_tickets": "Conversations that reached the desk (queued, taken or carrying a ticket).",
        "def_open_tickets": "Of these, not closed by the end of the period.",
    },
    "ru": {
        "title": "Отчёт поддержки",
        "period": "Период",
        "previous": "прошлый период",
        "time_zone": "часовой пояс",
        "partial_days": "Неполные дни (на дневном графике заштрихованы): {days}.",
        "compared_with": "Изменения — к прошлому периоду той же длины: {period}.",
        "no_previous": "За прошлый период ({period}) данных нет: изменения не показаны.",
        "partial": "неполный день",
        "headline": "Главные цифры",
        "metric": "Показатель",
        "value": "Значение",
        "change": "Изменение",
        "conversations": "Обращений",
        "first_response_median_s": "Первый ответ оператора, медиана",
        "first_response_p90_s": "Первый ответ оператора, p90",
        "bot_first_response_median_s": "Первый ответ бота, медиана",
        "bot_first_response_p90_s": "Первый ответ бота, p90",
        "operator_response_median_s": "Ответ оператора, медиана (все ответы)",
        "csat": "CSAT (доля оценок 4-5)",
        "rating_response_rate": "Доля ответов на запрос оценки",
        "fcr": "Решено с первого обращения",
        "deflection": "Самообслуживание (без человека)",
        "handoff_rate": "Доля передач оператору",
        "queue_wait_median_s": "Ожидание в очереди, медиана",
        "queue_wait_p90_s": "Ожидание в очереди, p90",
        "tickets": "Тикетов",
        "open_tickets": "Тикетов открыто",
        "handoff_reasons": "Почему обращения уходили к человеку",
        "reason": "Причина",
        "count": "Количество",
        "share": "Доля",
        "operators": "Операторы",
        "operator": "Оператор",
        "ratings": "Оценок",
        "articles": "Статьи: что переписать в первую очередь",
        "harm": "Вред",
        "def_harm": (
            "по вреду: голоса «не помогла» и передачи оператору после статьи сверх того, что "
            "получает средняя статья при стольких же показах"
        ),
        "article": "Статья",
        "shown": "Показана",
        "opened": "Открыта",
        "helpful": "Помогла",
        "not_helpful": "Не помогла",
        "handoff_after": "Передача после",
        "categories": "Тикеты по категориям",
        "subcategories": "Тикеты по подкатегориям",
        "category": "Категория",
        "subcategory": "Подкатегория",
        "gaps": "Пробелы в базе знаний: вопросы без ответа",
        "gap_total": "Сообщений без ответа",
        "sampled": "темы оценены по случайной выборке",
        "keywords": "Ключевые слова",
        "size": "Размер",
        "examples": "Примеры",
        "suggested_title": "Предлагаемый заголовок статьи",
        "nearest": "Ближайшая статья (сходство: высокое — переписать, низкое — написать новую)",
        "experiment": "Эксперимент",
        "arm": "Вариант",
        "test": "Тест",
        "p_value": "p-значение",
        "note": "Примечание",
        "plot_daily": "Обращения и передачи оператору по дням",
        "plot_load": "Открытых тикетов одновременно по часам",
        "plot_frt": "Первый ответ оператора, минуты",
        "plot_categories": "Тикеты по категориям",
        "day": "день",
        "date": "дата",
        "minutes": "минуты",
        "open_at_once": "открытых тикетов",
        "this_period": "этот период",
        "hour": "час дня",
        "no_data": "нет данных",
        "today": "Сегодня",
        "week": "За неделю",
        "resolution": "решение",
        "handoffs": "Передано оператору",
        "deflected": "Решено статьями",
        "first_response": "первый ответ",
        "reason_low_confidence": "В базе знаний не нашлось подходящего",
        "reason_user_asked": "Пользователь попросил человека",
        "reason_step_failed": "Не получился шаг инструкции",
        "reason_not_helpful": "Предложенные статьи не помогли",
        "reason_operator_busy": "Операторы заняты",
        "reason_unknown": "Не записана",
        "definition": "Определение",
        "operators_note": "каждая цифра — как в главных цифрах, по тикетам оператора",
        "bot_resolution_median_s": "Решение ботом, медиана",
        "ticket_resolution_median_s": "Решение тикетов, медиана",
        "resolution_median_s": "Время решения, все обращения, медиана",
        "def_conversations": "Обращения, первое сообщение которых попало в период.",
        "def_deflection": (
            "Доля обращений, решённых без человека: закрыто самообслуживанием, тикет отозван, "
            "потому что помогла статья, или отзыв «помогло» без передачи; никогда, если "
            "ответил оператор."
        ),
        "def_handoff_rate": "Доля обращений, переданных человеку.",
        "def_bot_first_response_median_s": "Первое сообщение -> первый ответ или подсказка бота.",
        "def_bot_first_response_p90_s": "То же, 90-й перцентиль.",
        "def_first_response_median_s": (
            "Передача -> первый ответ оператора (с ожиданием в очереди)."
        ),
        "def_first_response_p90_s": "То же, 90-й перцентиль.",
        "def_operator_response_median_s": (
            "Каждый ответ оператора на ждущие сообщения пользователя: от самого раннего из "
            "них до ответа."
        ),
        "def_resolution_median_s": (
            "Первое сообщение -> решение, по всем решённым обращениям (бот и тикеты)."
        ),
        "def_bot_resolution_median_s": (
            "Обращения без тикета: первое сообщение -> закрытие самообслуживанием."
        ),
        "def_ticket_resolution_median_s": (
            "Тикеты: первое сообщение -> последнее закрытие тикета (без переоткрытия после). "
            "У оператора так же, по его тикетам."
        ),
        "def_queue_wait_median_s": "Первая постановка в очередь -> оператор взял тикет.",
        "def_queue_wait_p90_s": "То же, 90-й перцентиль.",
        "def_csat": "Доля оценок 4-5 среди последних оценок обращений.",
        "def_rating_response_rate": "Оценённые обращения среди тех, где оценку запросили.",
        "def_fcr": (
            "Тикеты, решённые с первого обращения (не переоткрытые), среди тикетов с ответом."
        ),
        "def_tickets": "Обращения, дошедшие до операторов (очередь, взяты или с тикетом).",
        "def_open_tickets": "Из них не закрытые к концу периода.",
    },
}


def text(lang: str, key: str) -> str:
    """The text for a key in a language (English when the language is unknown)."""
    return TEXTS.get(lang, TEXTS["en"]).get(key, key)


def reason_text(lang: str, reason: str) -> str:
    """A handoff reason as a lead reads it; an unknown code is shown as it is."""
    key = f"reason_{reason}"
    found = TEXTS.get(lang, TEXTS["en"]).get(key)
    return found if found is not None else reason
