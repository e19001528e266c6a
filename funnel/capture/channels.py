"""Lead channels (来源): where Chinese B2B leads usually come from; any other channel is accepted too."""

from __future__ import annotations

SUGGESTED_CHANNELS = ("官网", "公众号", "直播", "小红书", "展会", "转介绍", "广告投放")


def channel_options(known: list[str]) -> list[str]:
    """The suggested channels first, then channels already in the data, without repeats."""
    return list(dict.fromkeys([*SUGGESTED_CHANNELS, *known]))
