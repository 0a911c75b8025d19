"""The registry's REST API: what a field app needs to survey and keep households.

Reads go through `for_user` (area scoping: an object outside the user's area is a 404);
writes go through `fupin.registry.services` only — serializers here validate fields and
shape data, they never save a model. Read and write shapes are separate serializers, so
the OpenAPI schema says exactly what a client sends and what it gets back.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from fupin.api.base import IF_MATCH, FupinAPIMixin, Pagination, etag, expected_version
from fupin.api.errors import service_errors
from fupin.core.models import Area
from fupin.core.scoping import area_prefix, visible_areas
from fupin.core.validators import validate_resident_id
from fupin.registry import enums, lifecycle, quality, services
from fupin.registry.filtersets import HouseholdFilterSet
from fupin.registry.models import (
    Attachment,
    Household,
    HouseholdIncome,
    Member,
    QualityIssue,
    StatusChange,
)

HOUSEHOLD_OWN_FIELDS = [f for f in services.HOUSEHOLD_FIELDS if f != "village"]
COMPUTED_FIELDS = ["people", "income_year", "per_capita_income"]

# --------------------------------------------------------------------------- read shapes


class ReadSerializer(serializers.ModelSerializer):
    """A read shape: its fields are listed read-only, and a blank choice stays documented.

    DRF drops `allow_blank` from read-only fields, so the schema would promise an enum value
    where the record holds "" (no relocation, no dropout reason).
    """

    def include_extra_kwargs(
        self, kwargs: MutableMapping[str, Any], extra_kwargs: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        allow_blank = kwargs.get("allow_blank", False)
        result = super().include_extra_kwargs(kwargs, extra_kwargs)
        if allow_blank:
            result["allow_blank"] = True
        return result


class CauseListField(serializers.ListField):
    child = serializers.ChoiceField(choices=enums.PovertyCause.choices)


class MemberSerializer(ReadSerializer):
    """A member as read. The resident ID is masked; in full only for a role allowed to."""

    id_number = serializers.SerializerMethodField(
        help_text=gettext_lazy("The full resident ID, or null when your role may not see it.")
    )
    id_number_masked = serializers.CharField(source="masked_id", read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            *services.MEMBER_FIELDS,
            "id_number_masked",
            "sex",
            "birth_date",
            "left_on",
            "left_reason",
        ]
        read_only_fields = fields

    def get_id_number(self, obj: Member) -> str | None:
        return obj.id_number if self.context.get("show_full_id") else None


class IncomeSerializer(ReadSerializer):
    """One year's income by source; `net` = all income − business costs (纯收入)."""

    total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    net = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = HouseholdIncome
        fields = ["year", *services.INCOME_FIELDS, "total", "net"]
        read_only_fields = fields


class LatestIncomeSerializer(IncomeSerializer):
    """The household's most recent income year: the one per-capita income is computed from."""

    def get_attribute(self, instance: Household) -> HouseholdIncome | None:
        return max(instance.incomes.all(), key=lambda i: i.year, default=None)


class QualityIssueSerializer(ReadSerializer):
    title = serializers.SerializerMethodField()

    class Meta:
        model = QualityIssue
        fields = ["rule", "title", "detail", "member"]
        read_only_fields = fields

    def get_title(self, obj: QualityIssue) -> str:
        return str(quality.TITLES.get(obj.rule, obj.rule))


class HouseholdSerializer(ReadSerializer):
    """A household as read: its own fields, computed figures, members, latest income."""

    village = serializers.CharField(source="village_id", read_only=True)
    village_name = serializers.CharField(source="village.name", read_only=True)
    other_causes = CauseListField(read_only=True)
    members = MemberSerializer(many=True, read_only=True)
    income = LatestIncomeSerializer(read_only=True, allow_null=True)
    quality_issues = QualityIssueSerializer(many=True, read_only=True)

    class Meta:
        model = Household
        fields = [
            "id",
            "code",
            "village",
            "village_name",
            "status",
            "status_date",
            *HOUSEHOLD_OWN_FIELDS,
            "identification_year",
            "exit_year",
            *COMPUTED_FIELDS,
            "version",
            "created_at",
            "updated_at",
            "members",
            "income",
            "quality_issues",
        ]
        read_only_fields = fields


class AttachmentSerializer(ReadSerializer):
    class Meta:
        model = Attachment
        fields = ["id", "name", "sha256", "uploaded_at"]
        read_only_fields = fields


class StatusChangeSerializer(ReadSerializer):
    """One step of the life cycle: dated, signed, reasoned."""

    transition_label = serializers.SerializerMethodField()
    user = serializers.CharField(source="user.username", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = StatusChange
        fields = [
            "id",
            "transition",
            "transition_label",
            "from_status",
            "to_status",
            "date",
            "reason",
            "user",
            "recorded_at",
            "attachments",
        ]
        read_only_fields = fields

    def get_transition_label(self, obj: StatusChange) -> str:
        step = lifecycle.transitions().get(obj.transition)
        return step.label if step else obj.transition


class AvailableTransitionSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    to_status = serializers.ChoiceField(
        source="target", choices=enums.HouseholdStatus.choices, read_only=True
    )
    requires_evidence = serializers.BooleanField(read_only=True)


class AreaSerializer(ReadSerializer):
    """An administrative division; `in_scope` is false for the ancestors above your area."""

    parent = serializers.CharField(  # type: ignore[assignment]
        source="parent_id", read_only=True, allow_null=True
    )
    has_children = serializers.BooleanField(read_only=True)
    in_scope = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = [
            "code",
            "name",
            "level",
            "parent",
            "is_poor_village",
            "is_deep_poverty_village",
            "has_children",
            "in_scope",
        ]
        read_only_fields = fields

    def get_in_scope(self, obj: Area) -> bool:
        prefix = self.context.get("area_prefix")
        return prefix is not None and obj.code.startswith(prefix)


# -------------------------------------------------------------------------- write shapes


class VersionedSerializer(serializers.Serializer):
    """`version`: the household version a change is based on (or the If-Match header)."""

    version_required = False

    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=gettext_lazy(
            "The household version this change is based on; or send If-Match instead."
        ),
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=gettext_lazy("Why the change is made; kept in the audit trail."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs["version"] = expected_version(
            self.context["request"], attrs.get("version"), required=self.version_required
        )
        return attrs


class MemberWriteSerializer(serializers.ModelSerializer):
    """A member as sent. Sex and birth date are derived from the resident ID."""

    # The service normalises full-width digits, spaces and 15-digit IDs, so allow the length.
    id_number = serializers.CharField(max_length=40, validators=[validate_resident_id])

    class Meta:
        model = Member
        fields = services.MEMBER_FIELDS


class MemberCreateSerializer(VersionedSerializer, MemberWriteSerializer):
    class Meta(MemberWriteSerializer.Meta):
        fields = [*services.MEMBER_FIELDS, "version", "reason"]


class MemberUpdateSerializer(VersionedSerializer, MemberWriteSerializer):
    """A change to a member; `left_on` with `left_reason` records that the member left."""

    version_required = True

    left_on = serializers.DateField(required=False)
    left_reason = serializers.ChoiceField(choices=enums.LeaveReason.choices, required=False)

    class Meta(MemberWriteSerializer.Meta):
        fields = [*services.MEMBER_FIELDS, "left_on", "left_reason", "version", "reason"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("left_on", "left_reason") if name in attrs]
        if len(given) == 1:
            missing = "left_reason" if given == ["left_on"] else "left_on"
            raise serializers.ValidationError(
                {missing: [_("Give both the date and the reason the member left.")]}
            )
        return super().validate(attrs)


class IncomeWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = HouseholdIncome
        fields = ["year", *services.INCOME_FIELDS]


class IncomeSetSerializer(VersionedSerializer, IncomeWriteSerializer):
    class Meta(IncomeWriteSerializer.Meta):
        fields = ["year", *services.INCOME_FIELDS, "version", "reason"]


class HouseholdWriteSerializer(serializers.ModelSerializer):
    village = serializers.CharField(
        max_length=12, help_text=gettext_lazy("The 12-digit code of the household's village.")
    )
    other_causes = CauseListField(required=False)

    class Meta:
        model = Household
        fields = services.HOUSEHOLD_FIELDS


class HouseholdCreateSerializer(HouseholdWriteSerializer):
    """A newly surveyed household with its members and, optionally, last year's income."""

    members = MemberWriteSerializer(many=True, required=False)
    income = IncomeWriteSerializer(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta(HouseholdWriteSerializer.Meta):
        fields = [*services.HOUSEHOLD_FIELDS, "members", "income", "reason"]


class HouseholdUpdateSerializer(VersionedSerializer, HouseholdWriteSerializer):
    """A change to a household's own fields; members, income and status have their own URLs."""

    version_required = True

    class Meta(HouseholdWriteSerializer.Meta):
        fields = [*services.HOUSEHOLD_FIELDS, "version", "reason"]


class TransitionSerializer(VersionedSerializer):
    """A step of the life cycle; a step that needs evidence needs attachments (multipart)."""

    name = serializers.ChoiceField(choices=[])
    date = serializers.DateField(
        required=False, help_text=gettext_lazy("The day of the step; today if not given.")
    )
    reason = serializers.CharField(max_length=2000)
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, allow_empty=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = self.fields["name"]
        assert isinstance(name, serializers.ChoiceField)
        name.choices = [(t.name, t.label) for t in lifecycle.transitions().values()]


# ---------------------------------------------------------------------------- viewsets

HOUSEHOLD_ID = OpenApiParameter(
    "household_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The household's id."
)


class RegistryViewSet(FupinAPIMixin, viewsets.GenericViewSet):
    # Households nest lists and objects, which only JSON can carry.
    parser_classes = [parsers.JSONParser]

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        user = self.request.user
        context["show_full_id"] = user.has_perm("registry.view_full_id")
        return context

    def households(self) -> QuerySet[Household]:
        return (
            Household.objects.for_user(self.request.user)
            .select_related("village")
            .prefetch_related("members", "incomes", "quality_issues")
        )

    def represent(self, household: Household) -> dict[str, Any]:
        fresh = self.households().get(pk=household.pk)
        return HouseholdSerializer(fresh, context=self.get_serializer_context()).data

    @staticmethod
    def current_version(household: Household) -> int:
        return Household.objects.values_list("version", flat=True).get(pk=household.pk)


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("Households in your area")),
    retrieve=extend_schema(summary=gettext_lazy("One household")),
)
class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """Households of the registry, restricted to the user's area."""

    serializer_class = HouseholdSerializer
    lookup_value_regex = r"\d+"
    filterset_class = HouseholdFilterSet
    pagination_class = Pagination
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Household]:
        return self.households()

    def filter_queryset(self, queryset: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
        # The list's filters never hide a household from its own URL.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_object()
        data = self.get_serializer(household).data
        return Response(data, headers={"ETag": etag(household.version)})

    @extend_schema(
        summary=gettext_lazy("Register a surveyed household"),
        request=HouseholdCreateSerializer,
        responses={201: HouseholdSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = HouseholdCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        members = [dict(m) for m in data.pop("members", [])]
        income = data.pop("income", None)
        reason = data.pop("reason", "")
        with service_errors(list_lengths={"members": len(members)}):
            household = services.create_household(
                request.user, data, members, dict(income) if income else None, reason=reason
            )
        location = reverse("api-household-detail", args=[household.pk])
        return Response(
            self.represent(household),
            status=status.HTTP_201_CREATED,
            headers={"Location": location, "ETag": etag(household.version)},
        )

    @extend_schema(
        summary=gettext_lazy("Change a household's own fields"),
        request=HouseholdUpdateSerializer,
        responses=HouseholdSerializer,
        parameters=[IF_MATCH],
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_object()
        serializer = HouseholdUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        reason = data.pop("reason", "")
        with service_errors():
            household = services.update_household(
                request.user, household, data, expected_version=version, reason=reason
            )
        return Response(self.represent(household), headers={"ETag": etag(household.version)})


class HouseholdChildViewSet(RegistryViewSet):
    """A viewset under /households/{household_id}/: the household must be in the user's area."""

    filter_backends = []
    pagination_class = None
    _household: Household

    def get_household(self) -> Household:
        if not hasattr(self, "_household"):
            self._household = Household.objects.get_for_user(
                self.request.user, pk=self.kwargs["household_id"]
            )
        return self._household

    def fake(self) -> bool:
        """During schema generation there is no household in the URL."""
        return getattr(self, "swagger_fake_view", False)


@extend_schema(parameters=[HOUSEHOLD_ID])
@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("Members of a household, including those who left")),
    retrieve=extend_schema(summary=gettext_lazy("One member")),
)
class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, HouseholdChildViewSet):
    serializer_class = MemberSerializer
    lookup_url_kwarg = "member_id"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Member]:
        if self.fake():
            return Member.objects.none()
        return Member.objects.for_user(self.request.user).filter(household=self.get_household())

    @extend_schema(
        summary=gettext_lazy("Add a member"),
        request=MemberCreateSerializer,
        responses={201: MemberSerializer},
        parameters=[IF_MATCH],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_household()
        serializer = MemberCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version, reason = data.pop("version"), data.pop("reason", "")
        with service_errors():
            member = services.save_member(
                request.user, household, data, expected_version=version, reason=reason
            )
        return Response(
            self.get_serializer(member).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag(self.current_version(household))},
        )

    @extend_schema(
        summary=gettext_lazy("Change a member, or record that the member left"),
        request=MemberUpdateSerializer,
        responses=MemberSerializer,
        parameters=[IF_MATCH],
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_household()
        member = self.get_object()
        serializer = MemberUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version, reason = data.pop("version"), data.pop("reason", "")
        left_on, left_reason = data.pop("left_on", None), data.pop("left_reason", None)
        with service_errors(), transaction.atomic():
            if data or left_on is None:
                member = services.save_member(
                    request.user,
                    household,
                    data,
                    member=member,
                    expected_version=version,
                    reason=reason,
                )
                version = None  # checked and held under lock for the rest of the transaction
            if left_on is not None and left_reason is not None:
                member = services.remove_member(
                    request.user,
                    member,
                    left_on,
                    left_reason,
                    expected_version=version,
                    reason=reason,
                )
        member = self.get_queryset().get(pk=member.pk)
        return Response(
            self.get_serializer(member).data,
            headers={"ETag": etag(self.current_version(household))},
        )


@extend_schema(parameters=[HOUSEHOLD_ID])
@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("Income of every recorded year, latest first")),
)
class IncomeViewSet(mixins.ListModelMixin, HouseholdChildViewSet):
    serializer_class = IncomeSerializer

    def get_queryset(self) -> QuerySet[HouseholdIncome]:
        if self.fake():
            return HouseholdIncome.objects.none()
        return (
            HouseholdIncome.objects.for_user(self.request.user)
            .filter(household=self.get_household())
            .order_by("-year")
        )

    @extend_schema(
        summary=gettext_lazy("Record or correct one year's income"),
        request=IncomeSetSerializer,
        responses={
            200: OpenApiResponse(IncomeSerializer, gettext_lazy("The year was corrected.")),
            201: OpenApiResponse(IncomeSerializer, gettext_lazy("The year was recorded.")),
        },
        parameters=[IF_MATCH],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_household()
        serializer = IncomeSetSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version, reason = data.pop("version"), data.pop("reason", "")
        existed = household.incomes.filter(year=data["year"]).exists()
        with service_errors():
            income = services.set_income(
                request.user, household, data, expected_version=version, reason=reason
            )
        return Response(
            self.get_serializer(income).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
            headers={"ETag": etag(self.current_version(household))},
        )


@extend_schema(parameters=[HOUSEHOLD_ID])
class TransitionViewSet(HouseholdChildViewSet):
    """The steps of the life cycle: which the user may take now, and taking one."""

    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]
    serializer_class = AvailableTransitionSerializer

    def get_queryset(self) -> QuerySet[StatusChange]:
        if self.fake():
            return StatusChange.objects.none()
        return StatusChange.objects.for_user(self.request.user).filter(
            household=self.get_household()
        )

    @extend_schema(
        summary=gettext_lazy("The steps you may take from the household's status"),
        responses=AvailableTransitionSerializer(many=True),
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_household()
        steps = lifecycle.available(household.status, request.user)
        return Response(AvailableTransitionSerializer(steps, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Take a step of the life cycle"),
        request=TransitionSerializer,
        responses={201: StatusChangeSerializer},
        parameters=[IF_MATCH],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        household = self.get_household()
        serializer = TransitionSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with service_errors(rename={"transition": "name"}):
            change = services.transition_household(
                request.user,
                household,
                data["name"],
                reason=data["reason"],
                date=data.get("date"),
                attachments=data.get("attachments", []),
                expected_version=data["version"],
            )
        change = self.get_queryset().select_related("user").get(pk=change.pk)
        return Response(
            StatusChangeSerializer(change, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag(household.version)},
        )


@extend_schema(parameters=[HOUSEHOLD_ID])
@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("The household's status changes, oldest first")),
)
class HistoryViewSet(mixins.ListModelMixin, HouseholdChildViewSet):
    serializer_class = StatusChangeSerializer

    def get_queryset(self) -> QuerySet[StatusChange]:
        if self.fake():
            return StatusChange.objects.none()
        return (
            StatusChange.objects.for_user(self.request.user)
            .filter(household=self.get_household())
            .select_related("user")
            .prefetch_related("attachments")
            .order_by("date", "id")
        )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("Child areas of an area"),
        parameters=[
            OpenApiParameter(
                "parent",
                OpenApiTypes.STR,
                description=gettext_lazy(
                    "The code of the area whose children to list; the top level if not given."
                ),
            )
        ],
    ),
    retrieve=extend_schema(summary=gettext_lazy("One area")),
)
class AreaViewSet(FupinAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Administrative divisions, as far as the user's area reaches (and the way down to it)."""

    serializer_class = AreaSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{2,12}"
    filter_backends = []
    pagination_class = None

    def get_queryset(self) -> QuerySet[Area]:
        qs = visible_areas(self.request.user).annotate(
            has_children=Exists(Area.objects.filter(parent=OuterRef("pk")))
        )
        if self.action == "list":
            parent = self.request.query_params.get("parent", "").strip()
            qs = qs.filter(parent_id=parent) if parent else qs.filter(parent__isnull=True)
        return qs.order_by("code")

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["area_prefix"] = area_prefix(self.request.user)
        return context
