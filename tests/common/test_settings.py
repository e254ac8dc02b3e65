from __future__ import annotations

import pytest

from common.settings import PublisherSettings, ServiceSettings, load_settings


def test_comma_separated_lists_and_case_insensitive_levels(monkeypatch):
    monkeypatch.setenv("ZMQ_PUB_ENDPOINTS", " tcp://a:1 ,tcp://b:2,, ")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(PublisherSettings)
    assert settings.zmq_pub_endpoints == ("tcp://a:1", "tcp://b:2")
    assert settings.log_level == "DEBUG"


def test_invalid_values_exit_2_naming_each_variable(monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "loud")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "LOG_LEVEL" in err and "'LOUD'" in err
    assert "LOG_FORMAT" in err and "'xml'" in err


def test_dotenv_is_read_and_environment_wins(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("LOG_LEVEL=WARNING\nSERVICE_NAME=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.delenv("SUPERVISOR_PROCESS_NAME", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    settings = load_settings(ServiceSettings)
    assert settings.log_level == "ERROR"
    assert settings.service_name == "from-dotenv"


def test_supervisord_process_name_names_the_service(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.setenv("SUPERVISOR_PROCESS_NAME", "gateway-1")
    assert load_settings(ServiceSettings).service_name == "gateway-1"
