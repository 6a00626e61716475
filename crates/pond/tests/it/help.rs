//! Help as people expect it: examples in every command's help, shell completions that a
//! shell loads, and manual pages.

use crate::support::TestPond;

/// The subcommands `pond --help` lists.
fn subcommands(pond: &TestPond) -> Vec<String> {
    let help = pond.ok(&["--help"]);
    let listed = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_examples_of_itself() {
    let pond = TestPond::new();
    let commands = subcommands(&pond);
    assert!(commands.len() >= 20, "{commands:?}");
    for command in commands {
        let help = pond.ok(&[&command, "--help"]);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`pond {command} --help` has no examples:\n{help}"));
        assert!(
            examples.contains(&format!("pond {command}")),
            "`pond {command} --help` has no example of it:\n{examples}"
        );
    }
}

#[test]
fn bash_loads_the_completions_and_man_pages_are_written() {
    let pond = TestPond::new();
    let script = pond.host("pond.bash");
    std::fs::write(&script, pond.ok(&["completions", "bash"])).unwrap();
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p pond", script.display()))
        .output()
        .expect("run bash");
    assert!(loaded.status.success(), "{loaded:?}");
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("_pond"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert!(pond.ok(&["completions", shell]).contains("copy"), "{shell}");
    }

    assert!(pond.ok(&["man"]).contains(".TH pond 1"));
    let dir = pond.host("man1");
    pond.ok(&["man", "--dir", dir.to_str().unwrap()]);
    let copy = std::fs::read_to_string(dir.join("pond-copy.1")).unwrap();
    assert!(copy.contains(".TH pond-copy 1"), "{copy}");
    assert!(copy.contains(r"\-\-timestamp\-column"), "{copy}");
}
