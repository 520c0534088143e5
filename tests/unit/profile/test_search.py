"""The search box: what a text typed is read as, the look-ups it asks, and which patrons match it, best first."""

import random
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.profile.domain.lookups import (
    email_lookup,
    lookup_keys,
    name_lookup,
    names_lookup,
    part_sound,
    phone_lookup,
    searchable_parts,
    upstream_lookup,
)
from services.profile.domain.profile import ProfileState
from services.profile.domain.search import (
    WORD_MATCH,
    Candidate,
    Found,
    MatchedBy,
    QueryKind,
    Unsearchable,
    UnsearchableQueryError,
    name_score,
    rank,
    read_query,
)
from services.profile.domain.strategies import Stamp, Stamped
from shared.emails import normalise_email
from shared.names import JOINING_PARTICLES, fold_name

HELENE = Candidate("per_helene", "Hélène", "Côté", emails=("helene.cote@example.com",), phones=("+15145550199",))
MARC = Candidate("per_marc", "Marc", "Tremblay", upstream_ids=("C-004521",))
ELISE = Candidate("per_elise", "Élise", "Gagnon")
LUC = Candidate("per_luc", "Luc", "Gagnon-Tremblay")
ANNE = Candidate("per_anne", "Anne", "Gagnon")
LEO = Candidate("per_leo", "Léo", "Gagné")
JEAN = Candidate("per_jean", "Jean", "St-Pierre")
MARIE = Candidate("per_marie", "Marie-Ève", "de la Fontaine")
NAMELESS = Candidate("per_nameless", emails=("someone@example.com",))
EVERYONE = (HELENE, MARC, ELISE, LUC, ANNE, LEO, JEAN, MARIE, NAMELESS)
STAMP = Stamp(datetime(2026, 10, 1, tzinfo=UTC), "evt-1")

NAME_LETTERS = st.sampled_from("abcdeéèfghiïjklmnoôpqrstuvwxyzç")
NAME_WORDS = st.text(NAME_LETTERS, min_size=2, max_size=12)
ADDRESSES = st.builds(
    "{}{}@{}".format,
    st.text(st.sampled_from("jeanJEAN."), min_size=1, max_size=6),
    st.sampled_from(("", "+news", "+")),
    st.sampled_from(("gmail.com", "GoogleMail.com", "videotron.ca")),
)


def found(text: str, candidates: tuple[Candidate, ...] = EVERYONE) -> list[str]:
    return [match.candidate.person_id for match in rank(read_query(text), candidates)]


# ---------------------------------------------------------------------------------------------------------------
# Reading the text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("elise.gagnon@example.com", QueryKind.EMAIL),
        (" Elise.Gagnon@EXAMPLE.com ", QueryKind.EMAIL),
        ("elise@", QueryKind.EMAIL),
        ("514 555-0199", QueryKind.PHONE),
        ("+1 (514) 555-0199", QueryKind.PHONE),
        ("514.555.0199 poste 12", QueryKind.PHONE),
        ("514-555-0199, p. 12", QueryKind.PHONE),
        ("514 555 0199 extension 12", QueryKind.PHONE),
        ("+1-514-555-0199;ext=12", QueryKind.PHONE),
        ("5145550199", QueryKind.PHONE),
        ("7231459876543", QueryKind.PHONE),
        ("C-004521", QueryKind.UPSTREAM_ID),
        ("4521", QueryKind.UPSTREAM_ID),
        ("cus_8a9f2", QueryKind.UPSTREAM_ID),
        ("1234567890123456", QueryKind.UPSTREAM_ID),
        ("Hélène Côté", QueryKind.NAME),
        ("tremblai", QueryKind.NAME),
        ("Lé", QueryKind.NAME),
        ("王小明", QueryKind.NAME),
    ],
)
def test_a_text_is_read_as_an_email_a_phone_an_upstream_id_or_names(text: str, kind: QueryKind) -> None:
    assert read_query(text).kind is kind


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", Unsearchable.TOO_SHORT),
        ("   ", Unsearchable.TOO_SHORT),
        ("a", Unsearchable.TOO_SHORT),
        (" é ", Unsearchable.TOO_SHORT),
        ("--", Unsearchable.NO_LETTERS_OR_DIGITS),
        ("... ,;!", Unsearchable.NO_LETTERS_OR_DIGITS),
        ("@@", Unsearchable.NO_LETTERS_OR_DIGITS),
        ("Tremblay " * 23, Unsearchable.TOO_LONG),
    ],
)
def test_a_text_too_short_or_without_letters_or_digits_is_refused_with_its_reason(
    text: str, reason: Unsearchable
) -> None:
    with pytest.raises(UnsearchableQueryError) as refused:
        read_query(text)

    assert refused.value.reason is reason


def test_names_are_read_as_folded_parts_with_their_particles_and_a_particle_left_at_the_end_is_dropped() -> None:
    assert read_query("  Hélène   CÔTÉ ").words == ("helene", "cote")
    assert read_query("Jean St-Pierre").words == ("jean", "stpierre")
    assert read_query("Marie de la Fontaine").words == ("marie", "delafontaine")
    assert read_query("Marie de").words == ("marie",)
    assert read_query("Le").words == ("le",)


def test_a_family_name_that_reads_as_a_particle_typed_first_still_finds_the_patron() -> None:
    thi_le = Candidate("per_thi_le", "Thi", "Le")
    di_nardo = Candidate("per_di_nardo", "Paolo", "Di Nardo")
    query = read_query("Le Thi")

    assert (query.words, query.plain_words) == (("lethi",), ("le", "thi"))
    assert [match.candidate for match in rank(query, [thi_le, *EVERYONE])] == [thi_le]
    assert [match.candidate for match in rank(read_query("di nardo paolo"), [di_nardo, thi_le])] == [di_nardo]
    _, then, _ = query.lookup_stages
    assert {name_lookup(sound) for word in ("le", "thi") if (sound := part_sound(word))} <= set(then)


def test_an_email_or_a_phone_is_looked_up_as_profiles_keep_it_a_phone_as_an_upstream_id_too() -> None:
    assert read_query(" Elise.Gagnon@EXAMPLE.com ").lookup_stages == ((email_lookup("elise.gagnon@example.com"),),)
    assert read_query("(514) 555-0199 poste 12").lookup_stages == (
        (phone_lookup("+1 514 555 0199"), upstream_lookup("(514) 555-0199")),
    )
    assert read_query("C-004521").lookup_stages == ((upstream_lookup("c-004521"),),)


def test_names_are_looked_up_two_by_two_first_then_one_by_one_then_by_their_first_letters_and_as_an_upstream_id() -> (
    None
):
    first, then, last = read_query("Hélène Côté").lookup_stages

    assert first == (upstream_lookup("hélène côté"), names_lookup("HLN", "K"))
    # A word shorter than the longest start (`cote`, `gau`) may be a name typed halfway, whose sound is often a
    # common one (K): the names it begins are read before the sounds, whose lists could fill the search alone.
    assert then == ("start:cote", name_lookup("HLN"), name_lookup("K"))
    assert last == ("start:helen",)
    assert read_query("Gagnon").lookup_stages == (
        (upstream_lookup("gagnon"),),
        (name_lookup("KKNN"),),
        ("start:gagno",),
    )
    assert read_query("Gau").lookup_stages == ((upstream_lookup("gau"),), ("start:gau", name_lookup("K")), ())


def test_an_initial_is_not_looked_up_but_the_other_words_are() -> None:
    first, then, last = read_query("M. Tremblay").lookup_stages

    assert first == (upstream_lookup("m. tremblay"),)
    assert then == (name_lookup("TRMBL"),)
    assert last == ("start:tremb",)


# ---------------------------------------------------------------------------------------------------------------
# Matching and ranking names


def test_names_match_without_their_accents_in_any_case() -> None:
    assert found("Helene Cote") == ["per_helene"]
    assert found("HELENE CÔTÉ") == ["per_helene"]


def test_a_name_pasted_with_a_soft_hyphen_matches_as_the_name_typed_and_the_other_way_round() -> None:
    [pasted_query] = rank(read_query("Tremb\u00adlay Marc"), [MARC])
    pasted_name = Candidate("per_marc", "Marc", "Trem\u00adblay")
    [pasted_candidate] = rank(read_query("Tremblay Marc"), [pasted_name])

    assert pasted_query.score == pasted_candidate.score == 1.0


def test_names_match_in_any_order() -> None:
    assert found("cote helene") == ["per_helene"]
    assert found("Tremblay Marc") == ["per_marc"]


def test_a_typo_still_matches_below_the_exact_name() -> None:
    [typo] = rank(read_query("Tremblai"), [MARC])
    [exact] = rank(read_query("Tremblay"), [MARC])

    assert typo.matched_by is MatchedBy.NAME
    assert WORD_MATCH <= typo.score < exact.score == 1.0


def test_a_family_name_alone_lists_every_patron_holding_it_by_first_name_then_names_close_to_it() -> None:
    ranked = rank(read_query("Gagnon"), EVERYONE)

    assert [(match.candidate.person_id, match.score) for match in ranked[:3]] == [
        ("per_anne", 1.0),
        ("per_elise", 1.0),
        ("per_luc", 1.0),
    ]
    assert [match.candidate.person_id for match in ranked[3:]] == ["per_leo"], "Gagné, one letter short"
    assert ranked[3].score < 0.9


def test_every_word_typed_must_match_a_name() -> None:
    assert found("Marc Gagnon") == []
    assert found("Élise Tremblay") == []
    assert found("Luc Gagnon") == ["per_luc"]


def test_two_short_names_one_letter_apart_are_two_people() -> None:
    assert found("Léa Gagné") == []
    assert name_score(["lea"], ["leo"]) is None


def test_a_family_name_is_found_by_its_particle_or_without_it() -> None:
    assert found("St-Pierre") == found("saint pierre") == found("Pierre") == ["per_jean"]
    assert found("Fontaine") == found("de la Fontaine") == found("Delafontaine") == ["per_marie"]
    assert found("Marie Fontaine") == ["per_marie"]


def test_each_part_of_a_compound_name_matches() -> None:
    assert found("Ève") == ["per_marie"]
    assert found("Luc Tremblay") == ["per_luc"]


def test_an_initial_matches_the_names_it_begins() -> None:
    assert found("M Tremblay") == ["per_marc"]
    assert found("E. Gagnon") == ["per_elise"]


def test_exact_names_rank_above_typos_and_equal_scores_follow_last_then_first_name() -> None:
    gagnons = (ANNE, ELISE, Candidate("per_gagnan", "Zoé", "Gagnan"), LUC)

    ranked = rank(read_query("gagnon"), tuple(reversed(gagnons)))

    assert [match.candidate.person_id for match in ranked] == ["per_anne", "per_elise", "per_luc", "per_gagnan"]
    assert [match.score for match in ranked[:3]] == [1.0, 1.0, 1.0]
    assert ranked[3].score < 1.0


def test_the_first_letters_of_a_name_find_whoever_it_begins_below_the_whole_name() -> None:
    gauthier = Candidate("per_gauthier", "Line", "Gauthier")

    assert found("Trem") == ["per_luc", "per_marc"], "Gagnon-Tremblay before Tremblay"
    assert found("Font") == found("de la Font") == ["per_marie"]
    assert found("Gau", (*EVERYONE, gauthier)) == ["per_gauthier"]
    assert found("Marc Trem") == ["per_marc"]
    [whole] = rank(read_query("Tremblay"), [MARC])
    [begun] = rank(read_query("Tremb"), [MARC])
    assert WORD_MATCH <= begun.score < whole.score


def test_two_letters_are_too_few_to_stand_for_a_name_they_begin() -> None:
    assert found("Tr") == []


def test_a_candidate_without_names_never_matches_names() -> None:
    assert rank(read_query("someone"), [NAMELESS]) == []


# ---------------------------------------------------------------------------------------------------------------
# Matching contact details and upstream ids


def test_an_email_matches_the_patron_holding_it_whatever_its_case() -> None:
    [match] = rank(read_query("Helene.Cote@EXAMPLE.com"), EVERYONE)

    assert (match.candidate, match.score, match.matched_by) == (HELENE, 1.0, MatchedBy.EMAIL)
    assert found("helene@example.com") == []


def test_an_email_matches_the_patron_identity_links_it_to_gmail_dots_and_tags_aside_other_dots_kept() -> None:
    gmail = Candidate("per_jean", "Jean", "Dupont", emails=("jeandupont@gmail.com",))
    videotron = Candidate("per_anne", "Anne", "Roy", emails=("anne.roy@videotron.ca",))

    assert found("Jean.Dupont+news@googlemail.com", (gmail, videotron)) == ["per_jean"]
    assert found("anne.roy+billets@videotron.ca", (gmail, videotron)) == ["per_anne"]
    assert found("anneroy@videotron.ca", (gmail, videotron)) == []
    assert read_query("Jean.Dupont+news@gmail.com").lookup_stages == (
        ("email:jeandupont@gmail.com", "email:jean.dupont+news@gmail.com"),
    )


def test_a_phone_without_its_country_code_matches_as_dialled_from_the_region_searched_in() -> None:
    paris = Candidate("per_paris", "Chloé", "Martin", phones=("+33142685300",))

    assert [match.candidate for match in rank(read_query("01 42 68 53 00", phone_region="FR"), [paris])] == [paris]
    assert rank(read_query("01 42 68 53 00"), [paris]) == [], "read from Canada, it is another number"


@given(ADDRESSES, ADDRESSES)
def test_a_search_by_email_matches_whom_its_look_ups_find_those_identity_links_or_holding_it_as_typed(
    typed: str, held: str
) -> None:
    query = read_query(typed)
    filed_under = lookup_keys(ProfileState(emails=dict.fromkeys((held.lower(),), STAMP)))
    linked = normalise_email(typed)

    matched = bool(rank(query, [Candidate("per_jean", emails=(held.lower(),))]))

    assert matched == any(key in filed_under for stage in query.lookup_stages for key in stage)
    assert matched == ((linked is not None and linked == normalise_email(held)) or typed.lower() == held.lower())


def test_a_phone_matches_however_it_is_written() -> None:
    for text in ("514 555 0199", "+1 (514) 555-0199", "514.555.0199 ext. 3"):
        assert [(match.candidate, match.matched_by) for match in rank(read_query(text), EVERYONE)] == [
            (HELENE, MatchedBy.PHONE)
        ]


def test_an_upstream_id_matches_from_any_source_case_and_spaces_aside() -> None:
    [match] = rank(read_query(" c-004521 "), EVERYONE)

    assert (match.candidate, match.score, match.matched_by) == (MARC, 1.0, MatchedBy.UPSTREAM_ID)


def test_digits_typed_alone_match_an_upstream_id_as_well_as_a_phone() -> None:
    shop_customer = Candidate("per_shop", "Nadia", "Roy", upstream_ids=("7231459876543",))

    [match] = rank(read_query("7231459876543"), [shop_customer, HELENE])

    assert (match.candidate, match.matched_by) == (shop_customer, MatchedBy.UPSTREAM_ID)


def test_a_name_search_matches_an_upstream_id_made_of_words() -> None:
    mailchimp = Candidate("per_mc", "Nadia", "Roy", upstream_ids=("abc-def",))

    [match] = rank(read_query("ABC-DEF"), [mailchimp])

    assert match.matched_by is MatchedBy.UPSTREAM_ID


def test_a_candidate_found_twice_is_listed_once_with_its_best_match() -> None:
    ranked = rank(read_query("Tremblay"), [MARC, LUC, MARC])

    assert [match.candidate.person_id for match in ranked] == ["per_luc", "per_marc"], "Gagnon-Tremblay first"


# ---------------------------------------------------------------------------------------------------------------
# Properties


# A particle is not a word of its own: typed last, it waits for the word it belongs to (`Marie de`).
NAME_WORDS_NOT_PARTICLES = NAME_WORDS.filter(lambda word: fold_name(word) not in JOINING_PARTICLES)


@given(st.lists(NAME_WORDS_NOT_PARTICLES, min_size=1, max_size=3), st.randoms())
def test_the_order_of_the_words_typed_does_not_change_the_answer(words: list[str], draw: random.Random) -> None:
    shuffled = words[:]
    draw.shuffle(shuffled)

    assert rank(read_query(" ".join(words)), EVERYONE) == rank(read_query(" ".join(shuffled)), EVERYONE)


@given(st.lists(NAME_WORDS, min_size=1, max_size=3))
def test_case_and_accents_typed_do_not_change_the_answer(words: list[str]) -> None:
    text = " ".join(words)
    plain = fold_name(text)
    assert plain is not None

    assert rank(read_query(text.upper()), EVERYONE) == rank(read_query(plain), EVERYONE)


@given(st.permutations(EVERYONE), st.sampled_from(["gagnon", "tremblay", "helene", "fontaine", "marc", "luc g"]))
def test_the_answer_does_not_depend_on_the_order_candidates_were_found_in(
    candidates: list[Candidate], text: str
) -> None:
    assert rank(read_query(text), candidates) == rank(read_query(text), EVERYONE)


@given(NAME_WORDS, NAME_WORDS, st.lists(NAME_WORDS, max_size=2))
def test_a_patron_s_own_names_find_them_first_with_a_perfect_score(
    first: str, last: str, other_words: list[str]
) -> None:
    patron = Candidate("per_patron", first.title(), last.title())
    others = [Candidate(f"per_{index}", word, word) for index, word in enumerate(other_words)]

    ranked = rank(read_query(f"{last} {first}"), [*others, patron])

    assert patron in [match.candidate for match in ranked if match.score == 1.0]
    assert ranked[0].score == 1.0


@given(NAME_WORDS_NOT_PARTICLES, NAME_WORDS_NOT_PARTICLES, st.booleans(), st.integers(3, 12))
def test_the_first_letters_of_a_patron_s_name_both_match_them_and_find_them_through_their_look_ups(
    first: str, last: str, of_last: bool, letters: int
) -> None:
    patron = Candidate("per_patron", first.title(), last.title())
    state = ProfileState(first_name=Stamped(first.title(), STAMP), last_name=Stamped(last.title(), STAMP))
    parts = searchable_parts(last if of_last else first)
    assume(parts and len(parts[0]) >= 3)
    typed = parts[0][:letters]
    assume(typed not in JOINING_PARTICLES)

    query = read_query(typed.upper())

    assert patron in [match.candidate for match in rank(query, [patron])]
    assert any(key in lookup_keys(state) for stage in query.lookup_stages for key in stage)


@given(st.text(min_size=0, max_size=30))
def test_any_text_is_refused_only_when_too_short_or_bare_and_its_matches_score_between_the_threshold_and_one(
    text: str,
) -> None:
    trimmed = " ".join(text.split())
    if len(trimmed) < 2 or not any(char.isalnum() for char in trimmed):
        with pytest.raises(UnsearchableQueryError):
            read_query(text)
        return
    query = read_query(text)
    ranked: list[Found] = rank(query, EVERYONE)

    assert all(WORD_MATCH <= match.score <= 1.0 for match in ranked)
    assert [match.score for match in ranked] == sorted((match.score for match in ranked), reverse=True)
    assert all(stage for stage in query.lookup_stages[:1])
