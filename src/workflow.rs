//! The site's workflow files, read just enough to tell whether a dispatch will start them.
//!
//! "The dispatch succeeded and nothing ran" is the most common complaint about
//! `repository_dispatch`: GitHub answers 204 whether or not a workflow on the default
//! branch listens. `doctor` reads the workflows' `on:` with this small scanner. It knows
//! the forms GitHub documents, not all of YAML:
//!
//! ```yaml
//! on: repository_dispatch                 on: [push, repository_dispatch]
//! on:                                     on:
//!   repository_dispatch:                    repository_dispatch:
//!     types: [update]                         types: update        # the scalar form
//! on:                                     on:
//!   repository_dispatch:                    - push
//!     types:                                - workflow_dispatch
//!       - update
//! ```

/// Which event types a `repository_dispatch` trigger takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Types {
    /// No `types`: every event type.
    Any,
    /// Only these.
    Only(Vec<String>),
}

/// The dispatch triggers of one workflow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Triggers {
    /// `repository_dispatch`, with its types, if the workflow has it.
    pub repository_dispatch: Option<Types>,
    /// Whether the workflow has `workflow_dispatch`.
    pub workflow_dispatch: bool,
}

impl Triggers {
    /// Whether a `repository_dispatch` of `event` starts this workflow.
    pub fn accepts(&self, event: &str) -> bool {
        match &self.repository_dispatch {
            Some(Types::Any) => true,
            Some(Types::Only(types)) => types.iter().any(|t| t == event),
            None => false,
        }
    }
}

/// Reads the triggers from a workflow file's text.
pub fn triggers(yaml: &str) -> Triggers {
    let lines: Vec<(usize, String)> = yaml
        .lines()
        .map(strip_comment)
        .filter(|l| !l.trim().is_empty())
        .map(|l| (indent(&l), l.trim().to_string()))
        .collect();
    let mut out = Triggers::default();
    let Some(start) = lines.iter().position(|(i, l)| *i == 0 && is_on_key(l)) else {
        return out;
    };
    let inline = value_after_colon(&lines[start].1);
    if !inline.is_empty() {
        for event in flow_list(inline) {
            out.note(&event, Types::Any);
        }
        return out;
    }
    let block: Vec<&(usize, String)> = lines[start + 1..]
        .iter()
        .take_while(|(i, _)| *i > 0)
        .collect();
    let Some(child) = block.first().map(|(i, _)| *i) else {
        return out;
    };
    for (k, (i, line)) in block.iter().enumerate() {
        if *i != child {
            continue;
        }
        if let Some(item) = line.strip_prefix("- ") {
            out.note(unquote(item.trim()), Types::Any);
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = unquote(key.trim());
        let value = value.trim();
        let body: Vec<&(usize, String)> = block[k + 1..]
            .iter()
            .take_while(|(j, _)| *j > child)
            .copied()
            .collect();
        let types = if let Some(pos) = value.find("types") {
            // Flow mapping: `repository_dispatch: {types: [update]}`.
            Types::Only(flow_list(
                value_after_colon(&value[pos..]).trim_end_matches('}'),
            ))
        } else {
            types_in(&body)
        };
        out.note(key, types);
    }
    out
}

impl Triggers {
    fn note(&mut self, event: &str, types: Types) {
        match event {
            "repository_dispatch" => self.repository_dispatch = Some(types),
            "workflow_dispatch" => self.workflow_dispatch = true,
            _ => {}
        }
    }
}

/// `types:` in a trigger's block: `[a, b]`, `a`, or a `- a` list below it.
fn types_in(body: &[&(usize, String)]) -> Types {
    let Some(k) = body.iter().position(|(_, l)| l.starts_with("types:")) else {
        return Types::Any;
    };
    let inline = value_after_colon(&body[k].1);
    if !inline.is_empty() {
        return Types::Only(flow_list(inline));
    }
    let level = body[k].0;
    Types::Only(
        body[k + 1..]
            .iter()
            .take_while(|(i, l)| *i > level || (*i == level && l.starts_with("- ")))
            .filter_map(|(_, l)| l.strip_prefix("- "))
            .map(|t| unquote(t.trim()).to_string())
            .collect(),
    )
}

/// `[a, "b"]` or `a` as a list of names.
fn flow_list(value: &str) -> Vec<String> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| unquote(s.trim()).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_on_key(line: &str) -> bool {
    // YAML 1.1 readers turn a bare `on` into `true`; GitHub's does not, but both spellings
    // appear in the wild.
    matches!(
        line.split(':').next().map(str::trim),
        Some("on" | "\"on\"" | "'on'" | "true")
    ) && line.contains(':')
}

fn value_after_colon(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, v)| v.trim())
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn strip_comment(line: &str) -> String {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with(char::is_whitespace) => {
                return line[..i].to_string()
            }
            _ => {}
        }
    }
    line.to_string()
}

/// The `run-name` line the site's workflow needs so a run's title carries the dispatch's
/// id (other events keep their own titles: an empty run-name is GitHub's default).
pub const RUN_NAME_LINE: &str = "run-name: ${{ github.event_name == 'repository_dispatch' && github.event.client_payload.dispatch_id && format('{0} {1}', github.event.action, github.event.client_payload.dispatch_id) || '' }}";

/// The title GitHub renders from `yaml`'s `run-name` line for a repository_dispatch of
/// `action` carrying `id`, as far as it can be told without GitHub: each `${{ … }}` that
/// names the id becomes it (through a `format('…', …)` of the event's action and the id,
/// where there is one), any other expression nothing. `None` without the line, or when
/// it names no id.
pub fn run_name_title(yaml: &str, action: &str, id: &str) -> Option<String> {
    let line = yaml
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("run-name:"))?;
    if !line.contains("client_payload.dispatch_id") {
        return None;
    }
    let mut rest = line.trim().trim_matches('"').trim_matches('\'');
    let mut title = String::new();
    while let Some(start) = rest.find("${{") {
        title.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        let expr = &rest[start + 3..end.saturating_sub(2).max(start + 3)];
        let value = |arg: &str| match arg.trim() {
            "github.event.action" => action.to_string(),
            a if a.ends_with("client_payload.dispatch_id") => id.to_string(),
            _ => String::new(),
        };
        if let Some(f) = expr.find("format('") {
            let (format, args) = expr[f + 8..]
                .split_once('\'')
                .unwrap_or((&expr[f + 8..], ""));
            let args = args.trim_start_matches(',').split(')').next().unwrap_or("");
            let mut text = format.to_string();
            for (i, arg) in args.split(',').enumerate() {
                text = text.replace(&format!("{{{i}}}"), &value(arg));
            }
            title.push_str(&text);
        } else if expr.contains("client_payload.dispatch_id") {
            title.push_str(id);
        }
        rest = &rest[end..];
    }
    title.push_str(rest);
    Some(title.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_form() {
        let only = |t: &[&str]| Some(Types::Only(t.iter().map(|s| s.to_string()).collect()));
        let cases = [
            ("on: repository_dispatch\n", Some(Types::Any)),
            ("on: [push, repository_dispatch]\n", Some(Types::Any)),
            ("on:\n  repository_dispatch:\n    types: [update]\n", only(&["update"])),
            ("on:\n  repository_dispatch:\n    types: update\n", only(&["update"])),
            ("\"on\":\n  repository_dispatch:\n    types: ['a', \"update\"]\n", only(&["a", "update"])),
            ("on:\n  push:\n    branches: [main]\n  repository_dispatch:\n    types:\n      - other\n      - update\njobs:\n  x: {}\n", only(&["other", "update"])),
            ("on:\n  repository_dispatch:\n  push:\n", Some(Types::Any)),
            ("on:\n  repository_dispatch: {types: [update]}\n", only(&["update"])),
            ("on:\n  - push\n  - repository_dispatch\n", Some(Types::Any)),
            ("on:\n  push: # repository_dispatch\n    branches: [main]\n", None),
            ("name: x\njobs:\n  on: repository_dispatch\n", None),
        ];
        for (yaml, want) in cases {
            assert_eq!(triggers(yaml).repository_dispatch, want, "{yaml}");
        }
    }

    #[test]
    fn accepts_the_event() {
        let t = triggers("on:\n  repository_dispatch:\n    types: update\n  workflow_dispatch:\n");
        assert!(t.accepts("update"));
        assert!(!t.accepts("deploy"));
        assert!(t.workflow_dispatch);
        assert!(triggers("on: repository_dispatch").accepts("anything"));
        assert!(!triggers("on: push").accepts("update"));
    }

    #[test]
    fn a_run_name_line_renders_the_id_where_github_would() {
        let readme = RUN_NAME_LINE;
        assert_eq!(
            run_name_title(readme, "update", "gd-1").as_deref(),
            Some("update gd-1")
        );
        let parens = "run-name: \"update (${{ github.event.client_payload.dispatch_id }})\"";
        assert_eq!(
            run_name_title(parens, "update", "gd-1").as_deref(),
            Some("update (gd-1)")
        );
        let glued = "run-name: update-${{ github.event.client_payload.dispatch_id }}";
        assert_eq!(
            run_name_title(glued, "update", "gd-1").as_deref(),
            Some("update-gd-1")
        );
        assert_eq!(
            run_name_title("run-name: Deploy ${{ github.sha }}", "update", "gd-1"),
            None
        );
        assert_eq!(run_name_title("name: x", "update", "gd-1"), None);
    }
}
