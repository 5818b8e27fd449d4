"""What a person reads when an incident starts and ends, in Chinese or English.

A ``Message`` is channel-neutral (a title, an intro line, labelled rows, advice); each channel renders
it with ``markdown()`` (DingTalk, WeCom, Feishu), ``slack()`` (Slack mrkdwn) or ``text()``. The rows
are the before/after columns a person compares: instance id, type, zone, spot price, IP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aliyun_ops.models import IncidentRecord, InstanceSummary

SUCCESS_STATUSES = ("replaced", "resumed")

# Every text a message carries may hold user text (an instance name, a tag, a reason quoting them). A name with a
# line break would start a row of its own; ``<!channel>`` or ``<at id=all></at>`` would mention everyone; a
# Markdown link would put a live link under any words. So each renderer escapes every text it places:
# - line breaks (and the other Unicode line separators) become one space, in every channel;
# - Slack mrkdwn: ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``, the escaping Slack documents, which
#   leaves no ``<...>`` token (mention, link, date) and no live ``<http://x|y>``. Slack documents no escape for
#   ``*``, ``_`` or ``~``: those can only make text bold, italic or struck;
# - Markdown (DingTalk, WeCom, Feishu): the characters of link, image, HTML and mention syntax and of emphasis
#   (``& < > [ ] * _ ` ~ | \``) as HTML numeric character references, which CommonMark renders as the character
#   and never reads as syntax, and which the HTML these clients render decodes alike.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "&<>[]*_`~|\\"})


def one_line(text: str) -> str:
    """The text on one line: a value can never start a row (or a heading, a quote, a list item) of its own."""
    return _LINE_BREAKS.sub(" ", text)


def slack_escaped(text: str) -> str:
    return one_line(text).translate(_SLACK)


def markdown_escaped(text: str) -> str:
    return one_line(text).translate(_MARKDOWN)

_T: dict[str, dict[str, str]] = {
    "zh": {
        "started": "抢占式实例即将被回收，开始替换",
        "replaced": "抢占式实例已替换",
        "failed": "抢占式实例替换失败",
        "ignored": "无需替换",
        "intro_started": "实例 {iid}（{region}）收到回收通知，正在创建镜像并启动等价的抢占式实例。",
        "intro_replaced": "实例 {iid} 已由 {new} 替换。",
        "intro_failed": "实例 {iid} 未能替换。",
        "intro_ignored": "实例 {iid}：{reason}",
        "instance": "实例 ID", "name": "名称", "type": "规格", "zone": "可用区", "price": "抢占价格",
        "ip": "IP", "image": "镜像", "reason": "原因", "tried": "已尝试", "advice": "建议",
        "duration": "耗时", "incident": "事件", "region": "地域", "seconds": "{s} 秒",
        "adv_nostock": "所有候选规格和可用区都没有库存。"
        "可放宽规格族限制（ALIYUN_OPS_ALLOW_FAMILIES / ALIYUN_OPS_DENY_FAMILIES）、"
        "提高最高出价（ALIYUN_OPS_MAX_SPOT_PRICE），或开启按量付费兜底（ALIYUN_OPS_PAYG_FALLBACK=true）。",
        "image_kept": "镜像 {image} 已保留，可在控制台用它手动创建实例。",
        "image_note": "镜像说明",
        "tags_left": "未复制的标签（每个资源最多 20 个）",
        "disks": "数据盘", "mount_note": "挂载提示",
        "disks_renamed": "设备名有变化：/etc/fstab 请按 UUID 或卷标挂载，不要按 /dev/xvd* 挂载。",
        "fallback_lineage": "新镜像不可用（创建失败或来不及完成），已改用该实例系列最新的旧镜像 {image}："
        "之后的改动已丢失。",
        "from_baseline": "回收通知时的快照来不及在释放前完成，已改用该实例系列最新的基线镜像 {image}"
        "（拍摄于 {time}）：之后的改动已丢失。",
        "from_notice": "镜像 {image} 来自回收通知时的系统盘快照（{time}）。",
        "adv_deadline": "函数在时限内没有完成替换。定时巡检（每 5 分钟）会继续处理；也可在 ECS 控制台检查镜像和实例。",
        "adv_permission": "函数的 RAM 角色权限不足：请为它授权 deploy/ram-policy.json 中的策略。",
        "adv_quota": "配额不足：请在配额中心提高 ECS 实例或镜像配额，或删除不再需要的镜像。",
        "adv_image": "镜像创建失败：请检查实例磁盘状态和镜像配额，然后在控制台手动创建镜像。",
        "adv_default": "请在函数日志中查看事件 {incident} 的详情；定时巡检（每 5 分钟）会重试。",
    },
    "en": {
        "started": "Spot instance being reclaimed: replacing it",
        "replaced": "Spot instance replaced",
        "failed": "Spot instance replacement failed",
        "ignored": "No replacement needed",
        "intro_started": "Instance {iid} ({region}) received its release notice; imaging it and launching an "
        "equivalent spot instance.",
        "intro_replaced": "Instance {iid} was replaced by {new}.",
        "intro_failed": "Instance {iid} could not be replaced.",
        "intro_ignored": "Instance {iid}: {reason}",
        "instance": "Instance ID", "name": "Name", "type": "Type", "zone": "Zone", "price": "Spot price",
        "ip": "IP", "image": "Image", "reason": "Reason", "tried": "Tried", "advice": "What to do",
        "duration": "Took", "incident": "Incident", "region": "Region", "seconds": "{s} s",
        "adv_nostock": "No candidate type or zone had stock. Allow more instance families "
        "(ALIYUN_OPS_ALLOW_FAMILIES / ALIYUN_OPS_DENY_FAMILIES), raise the maximum spot price "
        "(ALIYUN_OPS_MAX_SPOT_PRICE) or enable the pay-as-you-go fallback (ALIYUN_OPS_PAYG_FALLBACK=true).",
        "image_kept": "Image {image} is kept: you can launch from it in the console.",
        "image_note": "Image note",
        "tags_left": "Tags not copied (20 per resource at most)",
        "disks": "Data disks", "mount_note": "Mount note",
        "disks_renamed": "A device name changed: mount data disks by UUID or label in /etc/fstab, never by /dev/xvd*.",
        "fallback_lineage": "The fresh image was unusable (failed or could not finish in time): launched from "
        "the newest earlier image {image} of this lineage; changes made since it was taken are lost.",
        "from_baseline": "The notice's snapshot could not finish before the release: launched from the "
        "lineage's newest baseline {image}, taken {time}; changes made since then are lost.",
        "from_notice": "Image {image} is the notice's own snapshot of the system disk ({time}).",
        "adv_deadline": "The function ran out of time before the replacement was running. The periodic "
        "reconcile (every 5 minutes) carries on; you can also check the image and instance in the ECS console.",
        "adv_permission": "The function's RAM role lacks a permission: attach the policy in "
        "deploy/ram-policy.json to it.",
        "adv_quota": "A quota was exceeded: raise the ECS instance or image quota in Quota Center, or delete "
        "images you no longer need.",
        "adv_image": "Creating the image failed: check the instance's disks and the image quota, then create "
        "an image in the console.",
        "adv_default": "See the function logs for incident {incident}; the periodic reconcile (every 5 "
        "minutes) retries.",
    },
}

# failure kind -> words in the reason / tried list that reveal it (checked in this order)
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("permission", ("forbidden", "permission", "nopermission", "invalidaccesskey", "signaturedoesnotmatch")),
    ("quota", ("quota",)),
    ("deadline", ("deadline", "timed out", "timeout")),
    ("image", ("createimage", "incorrectimagestatus", "createfailed", "image failed")),
    ("nostock", ("nostock", "soldout", "sold out", "no stock", "without stock", "no candidate", "replacementfailed")),
)


@dataclass(frozen=True)
class Message:
    kind: str  # started | replaced | failed | ignored
    title: str
    intro: str
    rows: tuple[tuple[str, str], ...] = ()
    advice_label: str = ""
    advice: str = ""
    lang: str = "zh"

    @property
    def ok(self) -> bool | None:
        """True on success, False on failure, None while running or when nothing was done."""
        return {"replaced": True, "failed": False}.get(self.kind)

    @property
    def plain_title(self) -> str:
        """The title for a field shown as plain text (a card header, a conversation preview): on one line."""
        return one_line(self.title)

    def markdown(self, heading: bool = True) -> str:
        """CommonMark subset all three Chinese IM services render; ``heading=False`` when the card has one. Every
        text is escaped (``markdown_escaped``): the structure is ours alone."""
        e = markdown_escaped
        lines = ([f"### {e(self.title)}", ""] if heading else []) + [e(self.intro), ""]
        lines += [f"- **{e(label)}**: {e(value)}" for label, value in self.rows]
        if self.advice:
            lines += ["", f"**{e(self.advice_label)}**: {e(self.advice)}"]
        return "\n".join(lines)

    def slack(self) -> str:
        """Slack mrkdwn, every text escaped (``slack_escaped``)."""
        e = slack_escaped
        lines = [f"*{e(self.title)}*", e(self.intro), ""]
        lines += [f"• *{e(label)}*: {e(value)}" for label, value in self.rows]
        if self.advice:
            lines += ["", f"*{e(self.advice_label)}*: {e(self.advice)}"]
        return "\n".join(lines)

    def text(self) -> str:
        lines = [self.title, self.intro] + [f"{label}: {value}" for label, value in self.rows]
        if self.advice:
            lines.append(f"{self.advice_label}: {self.advice}")
        return "\n".join(lines)


def started_message(record: IncidentRecord, lang: str = "zh") -> Message:
    """The message sent when an incident starts: what is being replaced."""
    lang = _lang(lang)
    t = _T[lang]
    b = record.before
    rows = [(t["instance"], record.instance_id)]
    if b is not None:
        rows += _summary_rows(t, b)
    rows += [(t["region"], record.region_id), (t["incident"], record.incident_id)]
    intro = t["intro_started"].format(iid=record.instance_id, region=record.region_id)
    return Message("started", f"[aliyun-ops] {t['started']}: {_label(record)}", intro, tuple(rows), lang=lang)


def finished_message(record: IncidentRecord, lang: str = "zh") -> Message:
    """The message sent when an incident ends: success (before/after), failure (reason, advice) or ignored."""
    lang = _lang(lang)
    t = _T[lang]
    if record.status == "failed":
        return _failed(record, lang)
    if record.status in SUCCESS_STATUSES or record.new_instance_id:
        return _replaced(record, lang)
    intro = t["intro_ignored"].format(iid=record.instance_id, reason=record.reason or record.status)
    return Message("ignored", f"[aliyun-ops] {t['ignored']}: {_label(record)}", intro,
                   ((t["incident"], record.incident_id),), lang=lang)


def default_advice(record: IncidentRecord, lang: str = "zh") -> str:
    """What the user should do about a failure, guessed from its reason when the engine gave no advice."""
    t = _T[_lang(lang)]
    haystack = " ".join([record.reason, *record.tried]).lower()
    kind = next((k for k, words in _KINDS if any(w in haystack for w in words)), "default")
    advice = t[f"adv_{kind}"].format(incident=record.incident_id)
    if kind in ("nostock", "deadline", "default") and record.image_id:
        advice += " " + t["image_kept"].format(image=record.image_id)
    return advice


def _replaced(record: IncidentRecord, lang: str) -> Message:
    t = _T[lang]
    b, a = record.before, record.after
    new_id = record.new_instance_id or (a.instance_id if a else "-")
    rows = [
        (t["instance"], _arrow(record.instance_id, new_id)),
        (t["type"], _arrow(_get(b, "instance_type"), _get(a, "instance_type"))),
        (t["zone"], _arrow(_get(b, "zone_id"), _get(a, "zone_id"))),
        (t["price"], _arrow(_price(b), _price(a))),
        (t["ip"], _arrow(_ip(b), _ip(a))),
    ]
    if record.image_id:
        rows.append((t["image"], record.image_id))
    if record.image_source == "lineage-fallback":  # say plainly that recent changes are lost
        rows.append((t["image_note"], t["fallback_lineage"].format(image=record.image_id or "-")))
    rows += _image_note(record, t)
    rows += _tags_left(record, t)
    rows += _disks(record, t)
    rows += [*_duration(record, t), (t["incident"], record.incident_id)]
    intro = t["intro_replaced"].format(iid=record.instance_id, new=new_id)
    return Message("replaced", f"[aliyun-ops] {t['replaced']}: {_label(record)}", intro, tuple(rows), lang=lang)


def _image_note(record: IncidentRecord, t: dict[str, str]) -> list[tuple[str, str]]:
    """Which image the replacement runs and as of when: the notice's own, or the lineage's baseline (then the
    changes made since the baseline are lost, said plainly)."""
    image, when = record.image_id or "-", record.image_time or "-"
    if record.image_source == "baseline":
        return [(t["image_note"], t["from_baseline"].format(image=image, time=when))]
    if record.image_source == "fresh" and record.image_time:
        return [(t["image_note"], t["from_notice"].format(image=image, time=when))]
    return []


def _failed(record: IncidentRecord, lang: str) -> Message:
    t = _T[lang]
    rows = [(t["instance"], record.instance_id)]
    if record.before is not None:
        rows += _summary_rows(t, record.before)
    rows.append((t["reason"], record.reason or "-"))
    if record.tried:
        shown = record.tried[:5] + (["…"] if len(record.tried) > 5 else [])
        rows.append((t["tried"], "; ".join(shown)))
    if record.image_id:
        rows.append((t["image"], record.image_id))
    rows += [*_duration(record, t), (t["incident"], record.incident_id)]
    advice = record.advice or default_advice(record, lang)
    intro = t["intro_failed"].format(iid=record.instance_id)
    return Message("failed", f"[aliyun-ops] {t['failed']}: {_label(record)}", intro, tuple(rows),
                   t["advice"], advice, lang)


def _disks(record: IncidentRecord, t: dict[str, str]) -> list[tuple[str, str]]:
    """Each data disk's device on the original and on the replacement (``<device>: <disk> (...) at <device now>``,
    as the incident records them), and a warning when a name changed: an fstab written by device name breaks."""
    parts, renamed = [], False
    for line in record.data_disks:
        was, _, rest = line.partition(": ")
        disk = rest.split(" ", 1)[0]
        now = rest.rsplit(" at ", 1)[1] if " at " in rest else was
        renamed = renamed or (now != was)
        parts.append(f"{was} → {now} ({disk})" if now != was else f"{was} ({disk})")
    if not parts:
        return []
    rows = [(t["disks"], "; ".join(parts))]
    return [*rows, (t["mount_note"], t["disks_renamed"])] if renamed else rows


def _tags_left(record: IncidentRecord, t: dict[str, str]) -> list[tuple[str, str]]:
    """The user's tags the replacement had no room for: said, never dropped silently."""
    return [(t["tags_left"], ", ".join(record.tags_left))] if record.tags_left else []


def _summary_rows(t: dict[str, str], s: InstanceSummary) -> list[tuple[str, str]]:
    rows = [(t["name"], s.name)] if s.name else []
    return [*rows, (t["type"], s.instance_type), (t["zone"], s.zone_id), (t["price"], _price(s)), (t["ip"], _ip(s))]


def _duration(record: IncidentRecord, t: dict[str, str]) -> list[tuple[str, str]]:
    if record.finished_at is None or not record.started_at:
        return []
    return [(t["duration"], t["seconds"].format(s=round(record.finished_at - record.started_at)))]


def _label(record: IncidentRecord) -> str:
    name = record.before.name if record.before is not None else ""
    return f"{name} ({record.instance_id})" if name else record.instance_id


def _arrow(before: str, after: str) -> str:
    return f"{before} → {after}"


def _get(summary: InstanceSummary | None, attr: str) -> str:
    value = getattr(summary, attr, None) if summary is not None else None
    return str(value) if value else "-"


def _price(summary: InstanceSummary | None) -> str:
    if summary is None or summary.spot_price is None:
        return "-"
    return f"¥{summary.spot_price:.4f}/h"


def _ip(summary: InstanceSummary | None) -> str:
    if summary is None:
        return "-"
    return summary.public_ip or summary.private_ip or "-"


def _lang(lang: str) -> str:
    return lang if lang in _T else "zh"
