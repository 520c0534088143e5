import pytest

from services.console.entrypoints.http import _file_name, _local_path


@pytest.mark.parametrize(
    ("given", "file_name"),
    [
        ("per_0123abcd", "per_0123abcd"),
        ('a"b\r\nSet-Cookie: x=1', "a_b_Set-Cookie_x_1"),
        ("abonnés-à-l'infolettre", "abonn_s-_-l_infolettre"),
        ("", "export"),
    ],
)
def test_a_download_s_file_name_keeps_only_safe_characters(given: str, file_name: str) -> None:
    assert _file_name(given) == file_name


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/patrons/per_1?x=1", "/patrons/per_1?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_only_a_path_on_this_site_is_kept_as_the_next_page(target: str, kept: str) -> None:
    assert _local_path(target) == kept
