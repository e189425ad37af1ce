"""Supervision (issue 11 item 1): its rules, cases and case history, and a row per rule with the
defaults staff start from (docs/supervision.md says why each number)."""

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


# code: window_minutes, threshold, ratio, minimum, history_days, due_hours, quiet_hours
DEFAULTS = {
    "outage": (60, 0, 0, 0, 28, 24, 24),
    "outage_repeated": (1440, 4, 0, 0, 28, 72, 24),
    "silent": (60, 6, 0, 3, 28, 24, 24),
    "count_drift": (180, 10, 0.05, 2, 28, 72, 24),
    "over_capacity": (0, 2, 0.02, 0, 28, 72, 24),
    "orphan_exits": (1440, 0, 0.2, 20, 28, 72, 24),
    "unclosed_entries": (4320, 10, 0.1, 0, 28, 72, 24),
    "frozen_free": (720, 0, 0, 12, 28, 72, 24),
}


def seed_rules(apps, schema_editor):
    SupervisionRule = apps.get_model("analytics", "SupervisionRule")
    for code, (window, threshold, ratio, minimum, history, due, quiet) in DEFAULTS.items():
        SupervisionRule.objects.get_or_create(code=code, defaults={
            "window_minutes": window, "threshold": threshold, "ratio": ratio, "minimum": minimum,
            "history_days": history, "due_hours": due, "quiet_hours": quiet})


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0001_summaries'),
        ('lots', '0005_lot_grace_minutes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SupervisionRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(choices=[('outage', '长时间断网'), ('outage_repeated', '频繁断网'), ('silent', '有心跳无数据'), ('count_drift', '进出与余位快照不符'), ('over_capacity', '在场车辆超过总泊位'), ('orphan_exits', '无入场记录的出场过多'), ('unclosed_entries', '入场长期未闭合'), ('frozen_free', '余位长期不变')], max_length=24, unique=True, verbose_name='规则')),
                ('enabled', models.BooleanField(default=True, verbose_name='启用')),
                ('window_minutes', models.PositiveIntegerField(default=60, verbose_name='时段（分钟）')),
                ('threshold', models.FloatField(default=0, validators=[django.core.validators.MinValueValidator(0)], verbose_name='阈值')),
                ('ratio', models.FloatField(default=0, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)], verbose_name='比例')),
                ('minimum', models.PositiveIntegerField(default=0, verbose_name='最少数据量')),
                ('history_days', models.PositiveSmallIntegerField(default=28, verbose_name='历史天数')),
                ('due_hours', models.PositiveIntegerField(default=72, help_text='立案后多少小时内须结案，超过即为超期', validators=[django.core.validators.MinValueValidator(1)], verbose_name='处置时限（小时）')),
                ('quiet_hours', models.PositiveIntegerField(default=24, help_text='问题消除后持续这么久未再出现即自动结案；0 表示只能人工结案', verbose_name='自动结案静默期（小时）')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
            ],
            options={
                'verbose_name': '督查规则',
                'verbose_name_plural': '督查规则',
                'ordering': ['code'],
            },
        ),
        migrations.CreateModel(
            name='CaseChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('raised', '立案'), ('cause_ended', '问题消除'), ('state', '状态变更'), ('assigned', '指派'), ('note', '备注'), ('auto_closed', '自动结案')], max_length=12, verbose_name='类型')),
                ('from_state', models.CharField(blank=True, choices=[('open', '待处理'), ('assigned', '已指派'), ('in_progress', '整改中'), ('closed', '已结案'), ('dismissed', '不予立案')], max_length=12, verbose_name='原状态')),
                ('state', models.CharField(choices=[('open', '待处理'), ('assigned', '已指派'), ('in_progress', '整改中'), ('closed', '已结案'), ('dismissed', '不予立案')], max_length=12, verbose_name='状态')),
                ('note', models.TextField(blank=True, verbose_name='说明')),
                ('at', models.DateTimeField(verbose_name='时间')),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='操作人')),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='承办人')),
            ],
            options={
                'verbose_name': '督查案件记录',
                'verbose_name_plural': '督查案件记录',
                'ordering': ['at', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='HistoricalSupervisionRule',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('code', models.CharField(choices=[('outage', '长时间断网'), ('outage_repeated', '频繁断网'), ('silent', '有心跳无数据'), ('count_drift', '进出与余位快照不符'), ('over_capacity', '在场车辆超过总泊位'), ('orphan_exits', '无入场记录的出场过多'), ('unclosed_entries', '入场长期未闭合'), ('frozen_free', '余位长期不变')], db_index=True, max_length=24, verbose_name='规则')),
                ('enabled', models.BooleanField(default=True, verbose_name='启用')),
                ('window_minutes', models.PositiveIntegerField(default=60, verbose_name='时段（分钟）')),
                ('threshold', models.FloatField(default=0, validators=[django.core.validators.MinValueValidator(0)], verbose_name='阈值')),
                ('ratio', models.FloatField(default=0, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)], verbose_name='比例')),
                ('minimum', models.PositiveIntegerField(default=0, verbose_name='最少数据量')),
                ('history_days', models.PositiveSmallIntegerField(default=28, verbose_name='历史天数')),
                ('due_hours', models.PositiveIntegerField(default=72, help_text='立案后多少小时内须结案，超过即为超期', validators=[django.core.validators.MinValueValidator(1)], verbose_name='处置时限（小时）')),
                ('quiet_hours', models.PositiveIntegerField(default=24, help_text='问题消除后持续这么久未再出现即自动结案；0 表示只能人工结案', verbose_name='自动结案静默期（小时）')),
                ('updated_at', models.DateTimeField(blank=True, editable=False, verbose_name='更新时间')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical 督查规则',
                'verbose_name_plural': 'historical 督查规则',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='SupervisionCase',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('open', '待处理'), ('assigned', '已指派'), ('in_progress', '整改中'), ('closed', '已结案'), ('dismissed', '不予立案')], default='open', max_length=12, verbose_name='状态')),
                ('raised_at', models.DateTimeField(verbose_name='立案时间')),
                ('last_detected_at', models.DateTimeField(help_text='规则最近一次仍发现该问题的时间', verbose_name='最近发现')),
                ('ended_at', models.DateTimeField(blank=True, null=True, verbose_name='问题消除时间')),
                ('due_at', models.DateTimeField(verbose_name='处置时限')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='结案时间')),
                ('evidence', models.JSONField(default=dict, verbose_name='证据')),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='承办人')),
                ('last_change', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='analytics.casechange', verbose_name='最近变更')),
                ('lot', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='supervision_cases', to='lots.parkinglot', verbose_name='停车场')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='cases', to='analytics.supervisionrule', verbose_name='规则')),
            ],
            options={
                'verbose_name': '督查案件',
                'verbose_name_plural': '督查案件',
                'ordering': ['-raised_at', '-pk'],
            },
        ),
        migrations.AddField(
            model_name='casechange',
            name='case',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='analytics.supervisioncase', verbose_name='督查案件'),
        ),
        migrations.AddIndex(
            model_name='supervisioncase',
            index=models.Index(fields=['state', 'due_at'], name='supcase_state_due'),
        ),
        migrations.AddIndex(
            model_name='supervisioncase',
            index=models.Index(fields=['rule', 'ended_at'], name='supcase_rule_ended'),
        ),
        migrations.AddConstraint(
            model_name='supervisioncase',
            constraint=models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True)), fields=('lot', 'rule'), name='one_open_case_per_lot_rule'),
        ),
        migrations.RunPython(seed_rules, migrations.RunPython.noop),
    ]
