"""same_tags: whether a tags cell names the tags a customer has (an import's "unchanged"), with the tag
list read once by the caller and a tag created after that read still found."""

from __future__ import annotations

from funnel.customers.lists import list_values, save_value
from funnel.customers.tags import TAG_LIST, same_tags


def test_names_codes_separators_and_order_do_not_matter(session):
    save_value(session, TAG_LIST, code="hot", name_en="Hot lead", name_zh="热线索")
    save_value(session, TAG_LIST, code="expo", name_en="Expo visitor", name_zh="展会访客")
    known = list_values(session, TAG_LIST, include_inactive=True)
    for cell in ("hot;expo", "expo, hot", "热线索、Expo visitor", "HOT ; EXPO"):
        assert same_tags(session, cell, "hot, expo")
        assert same_tags(session, cell, "hot, expo", known)
    assert not same_tags(session, "hot", "hot, expo", known)
    assert not same_tags(session, "hot;vip", "hot, expo", known)


def test_a_tag_created_after_the_list_was_read_is_looked_up_and_kept(session):
    save_value(session, TAG_LIST, code="hot", name_en="Hot lead", name_zh="热线索")
    known = list_values(session, TAG_LIST, include_inactive=True)
    # A tag an earlier row of the import created:
    save_value(session, TAG_LIST, code="vip", name_en="Very important", name_zh="重点客户甲")
    assert same_tags(session, "热线索;重点客户甲", "hot, vip", known)
    assert [value.code for value in known][-1] == "vip"  # kept for the next row
