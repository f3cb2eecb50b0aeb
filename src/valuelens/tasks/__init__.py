"""The three ValueActionLens tasks and the ValueCompass one: items in, requests and records out.

Each task is configured once by a factory (`generate_task`, `stated_task`, `action_task`),
which checks templates, variants and scoring eagerly, and then does pure per-item work:

* `build_requests(...) -> list[Request]`: every request carries `metadata` with the task,
  variant id, country, topic, value(s) and, for Task 2, which polarity is Option 1.
* `parse(result)`: reads a runner result (anything with `.request`, `.response` and `.error`)
  into a record that keeps the raw text and a `parse_status`; it never raises on bad output.
  Task 1's `parse` returns a list (one record per value asked about).
* `parse_many(results)` and `to_frame(records) -> DataFrame` (the tidy output tables).

Tasks do not run anything: the runner sends the requests (and caches them). Check the backend
first with `task.check_backend(backend.capabilities)`: logprob scoring needs log-probabilities.

Example (inside an async function; `runner` is a `valuelens.runner.Runner`):

    from valuelens.data import load_via
    from valuelens.tasks import action_task, generate_task, stated_task

    generate = generate_task()
    generated = generate.parse_many(await runner.run(
        generate.build_requests("Canada", "Environment", "Honest,Wealth")))
    actions = generate.to_frame(generated)          # or load_via(path): same columns

    stated = stated_task(variants="all", scoring="generate", max_reasks=1)
    records = stated.parse_many(await runner.run(
        stated.build_requests("Canada", "Environment", "Honest,Wealth")))
    records += stated.parse_many(await runner.run(stated.reask_requests(records)))
    responses_stated = stated.to_frame(records)     # country, topic, value, variant, likert, ...

    action = action_task(variants="all", scoring="logprob")  # variants: "5", "5,7", [1, 3]
    action.check_backend(backend.capabilities)
    choices = action.parse_many(await runner.run(action.build_requests(actions)))
    responses_action = action.to_frame(choices)     # ..., option1_polarity, choice, p_negative

Prompt wording lives in the template files of `valuelens.prompts`; pass
`templates=load_templates(folder)` to any factory to use your own.

ValueCompass has one more task, `compass_task`: one request per country, scenario and variant
asks the model to rate every chosen value on 1..4 (the prompt is the template folder's
`compass/variant_N`, see `compass_prompt`; pass `templates=load_templates(folder,
tasks=["compass"])` for your own), and
`answers(results, model=...)` reads the replies into the tidy table of
`valuelens.data.load_compass_answers`:

    compass = compass_task(variants="0,2")
    ratings = compass.answers(await runner.run(
        compass.build_requests(countries="Canada", scenarios="Healthcare")), model="my-model")

Predicting gaps from explanations, `predict_task`: an observer model sees one action of a Task 2
pair (alone, with attributions, with the explanation, or with both) after k labelled examples
and says whether the target model chose it (`predict_items` and `split_examples` build the
items from an `evaluate` run).

Every task is registered by name (`task_names()`: generate, stated, action, predict, compass);
`get_task(name)` gives its factory, record type and template contract, and `register_task`
adds a new one, whose templates `load_templates` then checks like the built-in ones:

    spec = get_task("stated")
    stated = spec.create(variants="all")            # the same as stated_task(variants="all")
    register_task("mine", my_factory, record=MyRecord, contract=TemplateContract(
        "mine", ("prompt",), samples=lambda file: [{"text": "sample"}], root=my_folder))
"""

from valuelens.tasks._action import ActionPair, ActionTask, action_pairs, action_task
from valuelens.tasks._compass import CompassTask, compass_prompt, compass_task
from valuelens.tasks._generate import GENERATED_COLUMNS, GenerateTask, generate_task
from valuelens.tasks._predict import (
    PredictRecord,
    PredictTask,
    predict_items,
    predict_task,
    select_settings,
    split_examples,
)
from valuelens.tasks._records import (
    ActionRecord,
    GeneratedAction,
    GenerationStatus,
    ParseStatus,
    ResultLike,
    Scoring,
    StatedRecord,
)
from valuelens.tasks._registry import (
    Ask,
    Evaluation,
    EvaluationScope,
    Task,
    TaskSpec,
    evaluation_task_names,
    get_task,
    register_task,
    select_tasks,
    task_names,
    unregister_task,
)
from valuelens.tasks._stated import StatedTask, stated_task

__all__ = [
    "GENERATED_COLUMNS",
    "ActionPair",
    "ActionRecord",
    "ActionTask",
    "Ask",
    "CompassTask",
    "Evaluation",
    "EvaluationScope",
    "GenerateTask",
    "GeneratedAction",
    "GenerationStatus",
    "ParseStatus",
    "PredictRecord",
    "PredictTask",
    "ResultLike",
    "Scoring",
    "StatedRecord",
    "StatedTask",
    "Task",
    "TaskSpec",
    "action_pairs",
    "action_task",
    "compass_prompt",
    "compass_task",
    "evaluation_task_names",
    "generate_task",
    "get_task",
    "predict_items",
    "predict_task",
    "register_task",
    "select_settings",
    "select_tasks",
    "split_examples",
    "stated_task",
    "task_names",
    "unregister_task",
]

# Tasks that register themselves on import (their modules need the registry above).
from valuelens.tasks import _annotate as _annotate
from valuelens.tasks import _harms as _harms
from valuelens.tasks import _open as _open
from valuelens.tasks import _translate as _translate
